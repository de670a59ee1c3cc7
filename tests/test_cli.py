from __future__ import annotations

import subprocess
import sys

import pytest

import matgl_supercon
from matgl_supercon import cli, pretrained
from matgl_supercon.benchmarks import MODEL_INPUTS, MODELS, TASK_NAMES, TASKS


def test_cli_help_does_not_import_torch():
    # The parser is built, and --help answered, before any heavy import: `mgl-supercon --help` is instant.
    code = (
        "import sys; from matgl_supercon.cli import build_parser; build_parser(); "
        "heavy = [m for m in ('torch', 'matgl', 'lightning', 'pymatgen.core') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_version():
    done = subprocess.run([sys.executable, "-m", "matgl_supercon.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"mgl-supercon {matgl_supercon.__version__}"


def test_light_name_lists_match_the_definitions():
    assert tuple(TASKS) == TASK_NAMES
    assert tuple(MODEL_INPUTS) == MODELS
    assert cli.COMPOSITION_MEMBERS == pretrained.COMPOSITION_MEMBERS


def test_counts_out_of_range_are_refused_by_name(capsys):
    # A zero batch or chunk used to end in "range() arg 3 must not be zero"; a zero worker count passed silently.
    for argv, message in (
        (["screen", "cifs", "--out", "x.csv", "--chunk-size", "0"], "argument --chunk-size: must be at least 1, got 0"),
        (["screen", "cifs", "--out", "x.csv", "--workers", "0"], "argument --workers: must be at least 1, got 0"),
        (["screen", "cifs", "--out", "x.csv", "--top", "-1"], "argument --top: must be at least 0, got -1"),
        (["predict", "a.cif", "--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
        (["predict", "a.cif", "--batch-size", "two"], "argument --batch-size: invalid int value: 'two'"),
        (["generate", "--n", "0", "--out", "gen"], "argument --n: must be at least 1, got 0"),
    ):
        with pytest.raises(SystemExit):
            cli.main(argv)
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit, match=r"--fractions: '0.1,,0.2' is not a comma-separated list of numbers"):
        cli.main(["dope", "a.cif", "--host", "Mg", "--dopants", "Al", "--fractions", "0.1,,0.2"])
    # The fold is checked against the number of folds before any data is read.
    with pytest.raises(SystemExit, match=r"--fold 10: there are 10 folds \(0 to 9\)"):
        cli.main(["train", "--fold", "10", "--out", "run", "--data", "/nonexistent"])
