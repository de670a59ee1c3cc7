from __future__ import annotations

import json
import os
import stat

import pytest

from matgl_supercon._io import default_permissions, write_bytes_atomic, write_json_atomic


def test_atomic_writes_replace_whole_files_with_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_json_atomic(tmp_path / "sub" / "out.json", {"mae": 0.5})
        assert json.loads(path.read_text()) == {"mae": 0.5}
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600
        write_bytes_atomic(path, b"{}")
        assert path.read_bytes() == b"{}"
        assert [p.name for p in path.parent.iterdir()] == ["out.json"]  # no temporary file left behind
    finally:
        os.umask(old)


def test_failed_write_keeps_the_old_file(tmp_path):
    path = write_json_atomic(tmp_path / "out.json", [1])
    with pytest.raises(TypeError):
        write_bytes_atomic(path, "not bytes")
    assert json.loads(path.read_text()) == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_default_permissions_follow_umask():
    old = os.umask(0o027)
    try:
        assert default_permissions() == 0o640
        assert default_permissions(0o777) == 0o750
    finally:
        os.umask(old)
