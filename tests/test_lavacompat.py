import importlib
import sys

import pytest

from neurodeploy import lavacompat


def test_var_model_imports_and_defaults_are_not_shared():
    from lava.magma.compiler.var_model import ByteEncoder, CoreEncoder

    a, b = CoreEncoder(), CoreEncoder()
    assert a.x == ByteEncoder() and a.x is not b.x


def test_patch_rewrites_every_dataclass_instance_default():
    src = (
        "from dataclasses import dataclass, InitVar\n"
        "@dataclass\nclass A:\n    x: ByteEncoder = ByteEncoder()\n    y: int = 0\n"
    )
    out = lavacompat.patch_var_model_source(src)
    assert "x: ByteEncoder = field(default_factory=ByteEncoder)" in out
    assert "from dataclasses import dataclass, InitVar, field" in out
    assert "y: int = 0" in out


def test_patch_refuses_a_file_it_does_not_recognise():
    with pytest.raises(ImportError, match="differs from lava-nc 0.10.0"):
        lavacompat.patch_var_model_source("x = 1\n")


def test_slayer_and_netx_import_without_torchvision():
    assert lavacompat.slayer.block.cuba.Dense is not None
    assert lavacompat.netx.hdf5.Network is not None


def test_object_detection_placeholder_says_what_is_missing():
    obd = sys.modules[lavacompat.OBJECT_DETECTION]
    if importlib.util.find_spec("torchvision") and importlib.util.find_spec("cv2"):
        pytest.skip("torchvision and cv2 are installed: the real subpackage loaded")
    with pytest.raises(ImportError, match="needs .*torchvision"):
        obd.boundingbox  # noqa: B018


def test_finder_leaves_object_detection_alone_when_its_needs_are_met(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    finder = lavacompat.LavaCompatFinder()
    assert finder.find_spec(lavacompat.OBJECT_DETECTION, None) is None


def test_other_import_errors_are_not_hidden():
    finder = lavacompat.LavaCompatFinder()
    assert finder.find_spec("lava.magma.compiler.compiler", None) is None
    with pytest.raises(ModuleNotFoundError, match="no_such_module"):
        importlib.import_module("lava.magma.no_such_module")


def test_install_is_idempotent():
    lavacompat.install()
    lavacompat.install()
    assert sum(isinstance(f, lavacompat.LavaCompatFinder) for f in sys.meta_path) == 1
