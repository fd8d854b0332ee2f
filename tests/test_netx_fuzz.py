"""Property test: damaged NetX files give a NetxError (CLI: exit 2, one line naming the file), never a traceback.

Every example copies a valid network (our dense and conv test networks, two random
networks of every kind (sigma-delta, RF, recurrent), the
fixtures' network.net files), applies one random mutation from
``netx_mutations`` and reads it with ``read_netx``, ``neurodeploy inspect``
and ``neurodeploy compare F F`` (the golden model on random spikes). The
outcome of each must be success or a clean error. The counts of outcomes are
printed (run with ``-s``) and checked.
"""
from __future__ import annotations

import contextlib
import io
import shutil
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netx_builders import FIXTURES, conv_network, dense_network, random_network
from netx_mutations import MUTATIONS, mutate

from neurodeploy.cli import main
from neurodeploy.netx import NetxError, read_netx

FIXTURE_NETS = ("tinynet", "oxford", "mnist_mlp")
RANDOM_SEEDS = (0, 8)  # sigma-delta, Sigma, RF, recurrent, conv, delays (netx_builders.random_network)
BASES = ("dense", "dense_delays", "conv", *FIXTURE_NETS, *(f"random_{seed}" for seed in RANDOM_SEEDS))


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bases")
    dense_network(folder / "dense.net")
    dense_network(folder / "dense_delays.net", seed=1, delays=True)
    conv_network(folder / "conv.net")
    for seed in RANDOM_SEEDS:
        random_network(seed, folder)  # writes random_{seed}.net
    paths = {name: folder / f"{name}.net" for name in ("dense", "dense_delays", "conv")}
    paths.update({f"random_{seed}": folder / f"random_{seed}.net" for seed in RANDOM_SEEDS})
    paths.update({name: FIXTURES / name / "network.net" for name in FIXTURE_NETS})
    return paths


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``main(argv)`` with stdout discarded; returns the exit code and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


def check_case(base: Path, kind: str, seed: int, work: Path, outcomes: Counter) -> None:
    """Mutate a copy of ``base``; every reader must succeed or fail cleanly."""
    path = work / "case.net"
    shutil.copyfile(base, path)
    what = mutate(path, kind, seed)
    try:
        read_netx(path)
        outcomes["read ok"] += 1
    except NetxError as err:
        outcomes["read NetxError"] += 1
        assert str(err).startswith(str(path)), (what, str(err))
    for command in (["inspect", str(path)],
                    ["compare", str(path), str(path), "--random-rate", "0.2", "--steps", "4", "--seed", str(seed)]):
        code, stderr = run_cli(command)
        outcomes[f"{command[0]} exit {code}"] += 1
        assert code in (0, 2), (what, command, code, stderr)
        errors = [line for line in stderr.splitlines() if not line.startswith("neurodeploy: warning: ")]
        if code == 2:
            assert len(errors) == 1 and str(path) in errors[0], (what, stderr)
        else:
            assert errors == [], (what, stderr)
    outcomes[f"mutation {kind}"] += 1


def run_fuzz(bases: dict[str, Path], work: Path, examples: int) -> Counter:
    outcomes: Counter = Counter()

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(base=st.sampled_from(BASES), kind=st.sampled_from(MUTATIONS), seed=st.integers(0, 2**32 - 1))
    def case(base: str, kind: str, seed: int) -> None:
        outcomes["cases"] += 1
        check_case(bases[base], kind, seed, work, outcomes)

    case()
    print(f"\nNetX fuzz, {examples} examples: " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    return outcomes


def check_counts(outcomes: Counter, examples: int) -> None:
    assert outcomes["cases"] == examples
    assert outcomes["read ok"] + outcomes["read NetxError"] == examples
    assert outcomes["read ok"] > 0 and outcomes["read NetxError"] > 0
    assert outcomes["inspect exit 0"] + outcomes["inspect exit 2"] == examples


def test_mutated_files_fail_cleanly_quick(bases: dict[str, Path], tmp_path: Path) -> None:
    check_counts(run_fuzz(bases, tmp_path, 20), 20)


@pytest.mark.slow
def test_mutated_files_fail_cleanly_150(bases: dict[str, Path], tmp_path: Path) -> None:
    outcomes = run_fuzz(bases, tmp_path, 150)
    check_counts(outcomes, 150)
    assert all(outcomes[f"mutation {kind}"] > 0 for kind in MUTATIONS)


@pytest.mark.slow
@pytest.mark.lava
def test_verify_in_lava_on_mutated_files(bases: dict[str, Path], tmp_path: Path) -> None:
    """``neurodeploy verify`` (Lava) on a few damaged files: a pruned row still verifies (with a
    warning), a NaN weight, a truncated file and an unknown type are one-line errors."""
    path = tmp_path / "v.net"
    shutil.copyfile(bases["dense"], path)
    with h5py.File(path, "r+") as handle:
        weight = np.asarray(handle["layer/0/weight"][()])
        weight[3] = 0
        del handle["layer/0/weight"]
        handle["layer/0/weight"] = weight
    code, stderr = run_cli(["verify", str(path), "--random-rate", "0.3", "--steps", "6"])
    assert code == 0
    assert stderr == (f"neurodeploy: warning: {path}: layer/0: 1 of 20 neurons have an all-zero weight row: "
                      "they get no synaptic input (pruning can do this)\n")
    for kind, seed in (("bad_value", 3), ("truncate", 1), ("type_string", 0), ("overwrite", 5)):
        path = tmp_path / f"{kind}.net"  # a new file: netx keeps the files Lava loaded open
        shutil.copyfile(bases["dense"], path)
        what = mutate(path, kind, seed)
        code, stderr = run_cli(["verify", str(path), "--random-rate", "0.1", "--steps", "4"])
        assert code == 2 and stderr.startswith(f"neurodeploy: error: {path}: ") and stderr.count("\n") == 1, what
