from __future__ import annotations

import subprocess
import sys

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
