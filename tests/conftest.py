"""Tiny hand-made crystals with known answers, and the real datasets when ``../shared/data`` exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA_ROOT = Path(os.environ.get("MATGL_SUPERCON_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

A_MGB2, C_MGB2 = 3.086, 3.524


def _mgb2(mg_site) -> Structure:
    lattice = Lattice.hexagonal(A_MGB2, C_MGB2)
    return Structure(lattice, [mg_site, "B", "B"], [[0, 0, 0], [1 / 3, 2 / 3, 0.5], [2 / 3, 1 / 3, 0.5]])


@pytest.fixture
def mgb2() -> Structure:
    """Ordered MgB2 (P6/mmm): Mg has 12 B at 2.506 A; B has 3 B at 1.782 A and 6 Mg at 2.506 A."""
    return _mgb2("Mg")


@pytest.fixture
def mg_al_b2() -> Structure:
    """Mg0.9Al0.1B2: substitutional disorder on the Mg site."""
    return _mgb2({"Mg": 0.9, "Al": 0.1})


@pytest.fixture
def mg_deficient_b2() -> Structure:
    """Mg0.98B2: a vacancy fraction of 0.02 on the Mg site."""
    return _mgb2({"Mg": 0.98})


@pytest.fixture
def split_site() -> Structure:
    """NaCl-like cell whose Cl is split over two positions 0.4 A apart, half occupied each (PD)."""
    return Structure(
        Lattice.cubic(4.0), ["Na", {"Cl": 0.5}, {"Cl": 0.5}], [[0, 0, 0], [0.5, 0.5, 0.45], [0.5, 0.5, 0.55]]
    )


@pytest.fixture
def spd_site() -> Structure:
    """Like ``split_site`` but each alternative position holds Cl and Br (SPD)."""
    return Structure(
        Lattice.cubic(4.0),
        ["Na", {"Cl": 0.25, "Br": 0.25}, {"Cl": 0.25, "Br": 0.25}],
        [[0, 0, 0], [0.5, 0.5, 0.45], [0.5, 0.5, 0.55]],
    )


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared real datasets; tests that need them skip with the reason when absent."""
    if not (DATA_ROOT / "SuperCon3D").is_dir():
        pytest.skip(f"real datasets not found at {DATA_ROOT} (set MATGL_SUPERCON_DATA)")
    return DATA_ROOT


@pytest.fixture(scope="session")
def supercon3d(data_root):
    from matgl_supercon.data import load_supercon3d

    return load_supercon3d(data_root)
