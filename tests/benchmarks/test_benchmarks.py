from __future__ import annotations

import numpy as np
import pytest

from matgl_supercon.benchmarks import (
    CHGNET_FEATURES,
    chgnet_features,
    fold_summary,
    geometry_features,
    grouped_mae,
    mae,
    magpie_features,
    parity_plot,
    r2,
)


def test_metrics():
    assert mae([1, 2, 3], [1, 2, 5]) == pytest.approx(2 / 3)
    assert r2([1, 2, 3], [1, 2, 3]) == 1.0
    assert r2([1, 2, 3], [2, 2, 2]) == 0.0
    summary = fold_summary([{"mae": 1.0, "r2": 0.5}, {"mae": 3.0, "r2": 0.7}])
    assert summary["n_folds"] == 2
    assert summary["mae_mean"] == 2.0
    assert summary["mae_sd"] == pytest.approx(np.sqrt(2))
    groups = grouped_mae([0, 0, 1], [1, 0, 3], ["a", "a", "b"])
    assert groups == {"a": {"n": 2, "mae": 0.5}, "b": {"n": 1, "mae": 2.0}}


def test_features_see_occupancy(mgb2, mg_al_b2, mg_deficient_b2, tmp_path):
    structures = [mgb2, mg_al_b2, mg_deficient_b2]
    magpie = magpie_features(structures)
    assert magpie.shape == (3, 132)
    assert np.isfinite(magpie).all()
    assert not np.allclose(magpie[0], magpie[1])  # Al on the Mg site changes the weighted statistics
    geometry = geometry_features(structures)
    assert geometry.shape == (3, 16)
    assert geometry[2, 0] == pytest.approx(geometry[0, 0] * 2.98 / 3)  # occupancy-weighted atoms per volume
    assert geometry[2, 12] > 0 and geometry[0, 12] == 0  # mean vacancy fraction
    parity_plot([0, 1, 2], [0.1, 0.9, 2.2], tmp_path / "p.png", "test", groups=["a", "b", "a"])
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_chgnet_features_read_the_ordered_approximant(mgb2, mg_al_b2, split_site):
    pytest.importorskip("chgnet")
    features = chgnet_features([mgb2, mg_al_b2, split_site])
    assert features.shape == (3, CHGNET_FEATURES)
    assert np.isfinite(features).all()
    # Mg0.9Al0.1B2's approximant is MgB2: CHGNet sees the same crystal.
    assert features[1] == pytest.approx(features[0], abs=1e-5)
    assert -10 < features[0, 64] < 0  # energy per atom (eV) of a stable boride


def test_chgnet_features_refuse_a_crystal_too_dense_for_chgnet(mgb2):
    pytest.importorskip("chgnet")
    crushed = mgb2.copy()
    crushed.scale_lattice(mgb2.volume / 16)  # 160 neighbours per atom within 3 A (MgB2 has 10)
    with pytest.raises(ValueError, match=r"structure 1 \(MgB2\).*neighbours per atom"):
        chgnet_features([mgb2, crushed])
    with pytest.warns(UserWarning, match="features are NaN"):
        features = chgnet_features([mgb2, crushed], on_dense="nan")
    assert np.isfinite(features[0]).all() and np.isnan(features[1]).all()
