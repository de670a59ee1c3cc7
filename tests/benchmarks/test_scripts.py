"""The runner scripts under ``benchmarks/`` have no CLI tests of their own (they train for hours); these checks
catch a script that no longer imports and keep the shared report format honest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parents[2] / "benchmarks"


@pytest.mark.parametrize("name", sorted(p.stem for p in SCRIPTS.glob("[!_]*.py")))
def test_script_imports_and_has_main(name, benchmark_script):
    script = benchmark_script(name)
    assert callable(script.main)
    assert (script.__doc__ or "").strip(), f"benchmarks/{name}.py needs a docstring saying what it writes"


def test_report_files_carry_provenance(tmp_path, benchmark_script):
    report = benchmark_script("_report")
    meta = report.provenance("python benchmarks/x.py --data d", 1)
    assert meta["command"] == "python benchmarks/x.py --data d"
    assert "1 torch thread " in meta["machine"]
    assert "2 cores" in report.provenance("c", "2 cores")["machine"]
    lines = [*report.header_lines("Title", meta), "", "| a |", "|---|", "| 1 |"]
    report.write_report(tmp_path / "out", {"meta": meta, "rows": {"a": float("nan")}}, lines)
    text = (tmp_path / "out.md").read_text()
    assert text.startswith("# Title\n\nCommand: `python benchmarks/x.py --data d`  \nMachine: ")
    assert f"Date: {meta['date']}  \n" in text and text.endswith("| 1 |\n")
    assert json.loads((tmp_path / "out.json").read_text())["meta"] == meta
    assert not list(tmp_path.glob(".out*")), "temporary files must not be left behind"


def test_variant_workers_share_the_folds_and_pass_the_accelerator(benchmark_script):
    variants = benchmark_script("sodnet_variants")
    args = variants.argparse.Namespace(epochs=40, threads=1, accelerator="gpu", data="d")
    command = variants.variant_command("blocks3_composition_wide", [1, 5, 9], args)
    folds = command[command.index("--folds") + 1 : command.index("--epochs")]
    assert folds == ["1", "5", "9"]
    assert command[command.index("--accelerator") + 1] == "gpu"
    assert json.loads(command[command.index("--model") + 1])["n_blocks"] == 3
    assert command[-2:] == ["--data", "d"]
    assert "trained on gpu" in benchmark_script("_report").provenance("c", 1, "gpu")["machine"]
