from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from sklearn.model_selection import KFold

from matgl_supercon.data import (
    SuperconRecord,
    chemical_system,
    extra_training_records,
    group_folds,
    in_new_chemical_systems,
    matbench_folds,
    outside_chemical_systems,
    paper_folds,
)


def test_paper_folds_partition_and_determinism():
    ids = [f"id{i:04d}" for i in range(1578)]
    folds = paper_folds(ids)
    assert len(folds) == 10
    tested = np.concatenate([test for _, _, test in folds])
    assert sorted(tested.tolist()) == list(range(1578))
    for k, (train, val, test) in enumerate(folds):
        assert len(set(train) | set(val) | set(test)) == 1578
        assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)
        assert abs(len(train) - 0.8 * 1578) < 3 and abs(len(val) - 157.8) < 1.5
        # Block k validates in fold k and tests in fold k + 1.
        assert np.array_equal(val, folds[(k + 1) % 10][2])
    # Same ids in another order give the same folds (ids are sorted first).
    shuffled = list(reversed(ids))
    again = paper_folds(shuffled)
    assert sorted(np.array(shuffled)[again[3][2]].tolist()) == sorted(np.array(ids)[folds[3][2]].tolist())
    assert not np.array_equal(paper_folds(ids, seed=1)[0][2], folds[0][2])
    with pytest.raises(ValueError, match="unique"):
        paper_folds(["a", "a", "b"])


def test_matbench_folds_match_sklearn():
    ours = matbench_folds(100)
    ref = list(KFold(5, shuffle=True, random_state=18012019).split(np.arange(100)))
    for (a, b), (c, d) in zip(ours, ref, strict=True):
        assert np.array_equal(a, c) and np.array_equal(b, d)


def test_group_folds_keep_groups_together():
    groups = [f"mp-{i % 37}" for i in range(500)]
    folds = group_folds(groups)
    assert len(folds) == 5
    keys = np.array(groups)
    for train, test in folds:
        assert not set(keys[train]) & set(keys[test])
    assert sorted(np.concatenate([t for _, t in folds]).tolist()) == list(range(500))


def test_extra_records_keep_only_new_chemical_systems():
    lattice = Lattice.cubic(4.0)
    nb3sn = Structure(lattice, ["Nb", "Sn"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    doped = Structure(lattice, [{"Nb": 0.9, "Sn": 0.1}, "Sn"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    mgb2 = Structure(lattice, ["Mg", "B"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with_al = Structure(lattice, [{"Mg": 0.8, "Al": 0.2}, "B"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert chemical_system(with_al) == frozenset({"Mg", "Al", "B"})
    reference = [SuperconRecord("a", nb3sn, 18.0)]
    extra = [SuperconRecord(k, s, 10.0) for k, s in (("x", doped), ("y", mgb2), ("z", with_al))]
    # A doping variant of a reference compound shares its chemical system and is dropped; others are kept in order.
    assert [r.id for r in in_new_chemical_systems(extra, reference)] == ["y", "z"]
    assert in_new_chemical_systems(extra, extra) == []
    # Per fold: indices of candidate systems outside the fold's held-out (val + test) records, whatever the
    # stoichiometry; a system only the training block has stays.
    systems = [chemical_system(s) for s in (nb3sn, doped, mgb2, with_al, mgb2)]
    assert outside_chemical_systems(systems, [SuperconRecord("v", with_al, 1.0)]) == [0, 1, 2, 4]
    assert outside_chemical_systems(systems, [reference[0], SuperconRecord("t", mgb2, 1.0)]) == [3]
    assert outside_chemical_systems(systems, [with_al]) == [0, 1, 2, 4]  # structures serve as the reference too
    with pytest.raises(ValueError, match="unknown extra training set"):
        extra_training_records("3dsc_all", reference)
