from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from sklearn.model_selection import KFold

from matgl_supercon.data import (
    SAME_COMPOUND_DISTANCE,
    SuperconRecord,
    atom_fractions,
    chemical_system,
    extra_training_records,
    group_folds,
    held_out_extra_rows,
    in_new_chemical_systems,
    matbench_folds,
    outside_chemical_systems,
    outside_compounds,
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


def test_held_out_extra_rows_by_system_and_by_compound():
    from matgl_supercon.graph import virtual_crystal

    lattice = Lattice.cubic(4.0)
    mgb2 = Structure(lattice, ["Mg", "B", "B"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]])
    rows = [virtual_crystal(f) for f in ("MgB2", "Mg0.997Fe0.003B2", "Mg0.8Al0.2B2", "Mg0.5Al0.5B2", "Nb3Sn")]
    fractions = atom_fractions(rows)
    assert fractions.shape == (5, 119) and np.allclose(fractions.sum(1), 1.0)
    assert fractions[0, 12] == pytest.approx(1 / 3) and fractions[0, 5] == pytest.approx(2 / 3)
    # Partial occupancies count by their fraction: the disordered structure reads as its formula's virtual crystal.
    doped = Structure(lattice, [{"Mg": 0.8, "Al": 0.2}, "B", "B"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]])
    assert np.allclose(atom_fractions([SuperconRecord("d", doped, 1.0)]), fractions[2])
    # L1 distances to MgB2: 0, 0.002, 0.133, 0.333 and 2: the doped copy counts as the same compound.
    assert outside_compounds(fractions, atom_fractions([mgb2])) == [2, 3, 4]
    assert outside_compounds(fractions, atom_fractions([mgb2]), min_distance=0.2) == [3, 4]
    systems = [chemical_system(s) for s in rows]
    held_out = [SuperconRecord("t", mgb2, 39.0)]
    assert held_out_extra_rows(systems, fractions, held_out, "system") == [1, 2, 3, 4]  # the doped copy stays
    assert held_out_extra_rows(systems, fractions, held_out, "compound") == [2, 3, 4]  # its doping series stays
    assert held_out_extra_rows(systems, fractions, held_out, "system_and_compound") == [2, 3, 4]
    assert held_out_extra_rows(systems, fractions, [doped], "system_and_compound") == [0, 1, 4]
    assert SAME_COMPOUND_DISTANCE == 0.02
    with pytest.raises(ValueError, match="unknown extra-row scope 'chemsys'"):
        held_out_extra_rows(systems, fractions, held_out, "chemsys")
    with pytest.raises(ValueError, match="5 systems but 4 atom-fraction rows"):
        held_out_extra_rows(systems, fractions[:4], held_out, "compound")
    with pytest.raises(ValueError, match=r"expected \[n, 119\] atom fractions"):
        outside_compounds(fractions[:, :100], fractions)
