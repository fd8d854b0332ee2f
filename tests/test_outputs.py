"""What neurodeploy writes: never through a link or onto a device, FIFO or folder; with the
user's umask; one writer per folder; and ``run`` never calls a damaged output done."""
from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

import neurodeploy
from neurodeploy.cli import main
from neurodeploy.fileio import PathError, atomic_path, check_output
from neurodeploy.lock import LOCK_NAME, FolderBusyError, FolderChangedError, folder_lock
from neurodeploy.reference import fixtures_dir

TINY = Path(__file__).parent / "recipes" / "tiny.yaml"
OXFORD = fixtures_dir() / "oxford" / "network.net"


def _targets(tmp_path: Path) -> dict[str, Path]:
    """An output path of every kind that must be refused."""
    real = tmp_path / "real.json"
    real.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.json"
    folder.mkdir()
    targets = {"symlink": link, "FIFO": fifo, "directory": folder}
    try:  # a character device like /dev/null, made here (root only)
        device = tmp_path / "null"
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        targets["device"] = device
    except PermissionError:
        pass
    return targets


def test_json_outputs_refuse_links_devices_fifos_and_folders(tmp_path, capsys):
    for kind, target in _targets(tmp_path).items():
        before = target.lstat()
        code = main(["inspect", str(OXFORD), "--json", str(target)])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.count("\n") == 0 and str(target) in err, (kind, err)
        after = target.lstat()
        assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode), f"{kind} was replaced"
    assert (tmp_path / "real.json").read_text() == "{}", "the link's target was written through"


def test_atomic_path_refuses_the_same_kinds_and_writes_with_the_umask(tmp_path):
    for kind, target in _targets(tmp_path).items():
        with pytest.raises(PathError, match=f"{target.name}: is"):
            check_output(target)
    for umask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        previous = os.umask(umask)
        try:
            with atomic_path(tmp_path / f"file{umask}") as tmp:
                tmp.write_text("x")
        finally:
            os.umask(previous)
        assert stat.S_IMODE((tmp_path / f"file{umask}").stat().st_mode) == mode


def test_out_that_is_a_file_or_read_only_is_one_line(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    assert main(["train", str(TINY), "--out", str(afile)]) == 2
    err = capsys.readouterr().err.strip()
    assert "afile: is a file, not a folder" in err and err.count("\n") == 0
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o555)
        assert main(["train", str(TINY), "--out", str(locked)]) == 2
        assert "not writable" in capsys.readouterr().err


def test_a_second_writer_to_a_folder_gets_one_line_naming_it(tmp_path, capsys):
    out = tmp_path / "run"
    with folder_lock(out):
        assert main(["run", str(TINY), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and str(out) in err and f"pid {os.getpid()}" in err
        assert not (out / "recipe.json").exists(), "the second writer wrote nothing"
        with pytest.raises(FolderBusyError):
            with folder_lock(out):
                pass
    with folder_lock(out):  # released when the holder leaves
        pass


def test_the_lock_is_the_folders_own_and_a_deleted_or_replaced_folder_is_noticed(tmp_path):
    out = tmp_path / "run"
    with folder_lock(out) as held:
        (out / LOCK_NAME).unlink()  # the lock file gone: the folder itself is still locked
        with pytest.raises(FolderBusyError):
            with folder_lock(out):
                pass
        with pytest.raises(FolderChangedError, match=f"{out}: the folder was deleted or replaced"):
            held.check()
    with folder_lock(out) as held:
        held.check()
        shutil.rmtree(out)
        with pytest.raises(FolderChangedError):
            held.check()
        with folder_lock(out) as second:  # a new folder at the path: a second command may lock it
            second.check()


@pytest.mark.parametrize("recreate", [False, True])
def test_a_run_whose_folder_is_deleted_between_stages_stops_and_writes_nothing_more(tmp_path, recreate):
    out = tmp_path / "run"
    seen = []
    STAGE = "train: running"  # after the run wrote its recipe, before the first stage writes

    def progress(line: str) -> None:  # the folder deleted (and made again by another command)
        seen.append(line)
        if line.startswith(STAGE):
            shutil.rmtree(out)
            if recreate:
                out.mkdir()
                (out / "theirs.txt").write_text("the second command's")

    with pytest.raises(FolderChangedError, match=f"^{out}: the folder was deleted or replaced"):
        neurodeploy.run(TINY, out, progress=progress)
    assert seen[-1].startswith(STAGE), "stopped before the stage wrote"
    if recreate:
        assert sorted(path.name for path in out.iterdir()) == ["theirs.txt"], "nothing written into the new folder"
    else:
        assert not out.exists(), "the deleted folder is not made again"


@pytest.mark.slow
def test_run_reruns_a_stage_whose_output_was_truncated_instead_of_calling_it_done(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(TINY), "--out", str(out)]) == 0
    whole = (out / "pruned.net").read_bytes()
    (out / "pruned.net").write_bytes(whole[:3000])
    capsys.readouterr()
    assert main(["run", str(TINY), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "export: running (pruned.net differs from the file it wrote)" in printed
    assert (out / "pruned.net").read_bytes() == whole
    assert "simulate: up to date, skipped" in printed, "the rewritten file is the one simulate read"
    # a stage run by hand refuses a folder whose earlier stage is damaged
    (out / "dense.pt").write_bytes(b"garbage")
    assert main(["simulate", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "the train stage is not up to date" in err and "dense.pt differs from the file it wrote" in err
    # a damaged stages.json is no record at all: everything runs again
    (out / "stages.json").write_text("{not json")
    assert main(["run", str(TINY), "--out", str(out)]) == 0
    assert "train: running (not run yet)" in capsys.readouterr().out
    assert json.loads((out / "stages.json").read_text())["format"] == 2
