from __future__ import annotations

import json
import os
import stat

import pytest

from matgl_supercon._io import (
    default_permissions,
    make_folder,
    read_csv_rows,
    replace_folder,
    write_bytes_atomic,
    write_json_atomic,
)


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


def test_replace_folder_swaps_in_a_finished_build(tmp_path):
    shipped, build = tmp_path / "Model", tmp_path / ".Model.building"
    (shipped / "fold_0").mkdir(parents=True)
    (shipped / "fold_0" / "model.json").write_text("old")
    (build / "fold_0").mkdir(parents=True)
    (build / "fold_0" / "model.json").write_text("new")
    replace_folder(build, shipped)
    assert (shipped / "fold_0" / "model.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Model"]
    (build / "fold_0").mkdir(parents=True)  # a first build: nothing to replace
    replace_folder(build, tmp_path / "Other")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Model", "Other"]


def test_make_folder_follows_a_link_made_before_its_target(tmp_path):
    (tmp_path / "runs").symlink_to(tmp_path / "scratch" / "runs")
    assert make_folder(tmp_path / "runs" / "fold_0") == tmp_path / "runs" / "fold_0"
    assert (tmp_path / "scratch" / "runs" / "fold_0").is_dir()
    make_folder(tmp_path / "runs" / "fold_0")  # an existing folder is fine


def test_csv_rows_cut_short_or_edited_are_named(tmp_path):
    path = tmp_path / "results.csv"
    assert read_csv_rows(path) == []
    path.write_text("source,tc,ln_tc\na.cif,39.0,3.66\nb.cif,33\n")
    with pytest.raises(ValueError, match=r"results.csv line 3: 2 fields where the header has 3 \(cut short or edited"):
        read_csv_rows(path)
    path.write_text("source,tc,ln_tc\na.cif,39.0,3.66,extra\n")
    with pytest.raises(ValueError, match=r"results.csv line 2: 4 fields where the header has 3"):
        read_csv_rows(path)
    path.write_text("source,tc,ln_tc\na.cif,39.0,3.66\n")
    assert read_csv_rows(path) == [{"source": "a.cif", "tc": "39.0", "ln_tc": "3.66"}]
