"""Train/validation/test splits: the SuperCon3D paper protocol, Matbench's KFold and grouped k-fold."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np
import torch
from sklearn.model_selection import GroupKFold, KFold

from matgl_supercon.data._loaders import load_3dsc_mp, load_supercon_formulas
from matgl_supercon.data._records import SuperconRecord
from matgl_supercon.graph import virtual_crystal

if TYPE_CHECKING:
    from pymatgen.core import Structure

#: Matbench's fixed shuffle seed for its 5-fold KFold.
MATBENCH_SEED = 18012019

Fold = tuple[np.ndarray, np.ndarray, np.ndarray]


def paper_folds(ids: Sequence[str], n_folds: int = 10, seed: int = 0) -> list[Fold]:
    """The SuperCon3D paper protocol: ``n_folds`` blocks, 8:1:1 for ten folds.

    Ids are sorted, permuted with a seeded ``torch.Generator`` and cut into ``n_folds`` blocks;
    fold ``k`` validates on block ``k``, tests on block ``k - 1`` and trains on the rest, so every
    structure is tested exactly once over the folds.

    Args:
        ids: One unique id per structure, in dataset order.
        n_folds: Number of folds (and blocks).
        seed: Seed of the permutation.

    Returns:
        For each fold, ``(train, val, test)`` arrays of positions into ``ids``.
    """
    if len(set(ids)) != len(ids):
        raise ValueError("paper_folds: ids must be unique")
    if n_folds < 3 or len(ids) < n_folds:
        raise ValueError(f"paper_folds: need n_folds >= 3 and at least n_folds ids, got {n_folds} and {len(ids)}")
    order = np.argsort(np.asarray(ids, dtype=object).astype(str), kind="stable")
    perm = torch.randperm(len(ids), generator=torch.Generator().manual_seed(seed)).numpy()
    blocks = np.array_split(order[perm], n_folds)
    folds = []
    for k in range(n_folds):
        val, test = blocks[k], blocks[(k - 1) % n_folds]
        train = np.concatenate([b for j, b in enumerate(blocks) if j not in (k, (k - 1) % n_folds)])
        folds.append((np.sort(train), np.sort(val), np.sort(test)))
    return folds


def matbench_folds(n: int, n_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Matbench's outer folds: ``KFold(n_splits, shuffle=True, random_state=18012019)``.

    Args:
        n: Number of samples.
        n_splits: Number of folds.

    Returns:
        For each fold, ``(train_and_val, test)`` position arrays.
    """
    kfold = KFold(n_splits=n_splits, shuffle=True, random_state=MATBENCH_SEED)
    return list(kfold.split(np.arange(n)))


def group_folds(groups: Sequence, n_splits: int = 5, seed: int = MATBENCH_SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """K-fold where all rows of one group land in the same test fold (e.g. 3DSC_MP by ``mp_id``).

    Args:
        groups: One group key per row.
        n_splits: Number of folds.
        seed: Shuffle seed for the assignment of groups to folds.

    Returns:
        For each fold, ``(train_and_val, test)`` position arrays; no group appears on both sides.
    """
    keys = np.asarray([str(g) for g in groups])
    kfold = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(kfold.split(np.arange(len(keys)), groups=keys))


def chemical_system(structure: Structure) -> frozenset[str]:
    """The element symbols on a structure's sites, partly occupied sites included."""
    return frozenset(el.symbol for el in structure.composition.elements)


def in_new_chemical_systems(
    records: Sequence[SuperconRecord], reference: Sequence[SuperconRecord]
) -> list[SuperconRecord]:
    """The records whose chemical system occurs in no reference record.

    Extra training data filtered this way (e.g. 3DSC_MP added to SuperCon3D folds) holds neither a reference
    compound nor any of its doping series. It may still hold lightly doped copies of a reference compound in a
    neighbouring system (``Mg0.997Fe0.003B2`` beside MgB2), whose Tc is close to the reference's; drop those with
    :func:`outside_compounds` (``extra_training_records(..., min_distance=SAME_COMPOUND_DISTANCE)``).

    Args:
        records: Candidate extra records.
        reference: The benchmark's records.

    Returns:
        The candidates outside every reference chemical system, in their order.
    """
    keep = outside_chemical_systems([chemical_system(r.structure) for r in records], reference)
    return [records[i] for i in keep]


def outside_chemical_systems(
    systems: Sequence[frozenset[str]], reference: Sequence[SuperconRecord | Structure]
) -> list[int]:
    """Indices of the chemical systems (e.g. of candidate extra records) that no reference record (or structure) has.

    With a fold's validation and test records as the reference, this picks the extra records a fold may train on
    or read: per fold, more than :func:`in_new_chemical_systems` against the whole benchmark leaves. A system filter
    alone keeps lightly doped copies of a reference compound (``Mg0.997Fe0.003B2`` beside MgB2); see
    :func:`outside_compounds`.
    """
    seen = {chemical_system(r.structure if isinstance(r, SuperconRecord) else r) for r in reference}
    return [i for i, system in enumerate(systems) if system not in seen]


#: Atom-fraction L1 distance (:func:`atom_fractions`) below which two compositions count as one compound. SuperCon
#: writes one compound several ways (YBa2Cu3O6.9 and YBa2Cu3O6.95, 0.006 apart) and lists lightly doped copies
#: (Mg0.997Fe0.003B2, 0.002 from MgB2): on SuperCon3D, the formula row nearest a structure within this distance holds
#: its Tc to 0.036 ln K on average, while rows 0.02-0.05 away differ by 0.35 ln K, as much as SuperCon3D's own
#: structures that far apart (``benchmarks/results/formula_scope.md``).
SAME_COMPOUND_DISTANCE = 0.02

#: Which extra rows (e.g. formula-table rows) a benchmark fold may train on, against its held-out records:
#: ``system``, outside their chemical systems; ``compound``, at least :data:`SAME_COMPOUND_DISTANCE` from each of
#: their compositions (other compounds of their systems, their doping series, are kept, as the paper's random
#: split keeps such structures); ``system_and_compound``, both.
ExtraScope = Literal["system", "compound", "system_and_compound"]
EXTRA_SCOPES: tuple[str, ...] = get_args(ExtraScope)


def atom_fractions(items: Sequence[SuperconRecord | Structure]) -> np.ndarray:
    """``[n, 119]`` atom fraction of each element (by atomic number) in each record's or structure's composition.

    Partly occupied sites count by their occupancy, so each row sums to 1. Compare rows with an L1 distance: two
    compounds that differ by one atom per hundred in the formula unit (sum of atoms) are 0.02 apart.
    """
    fractions = np.zeros((len(items), 119))
    for row, item in enumerate(items):
        structure = item.structure if isinstance(item, SuperconRecord) else item
        for element, fraction in structure.composition.fractional_composition.items():
            fractions[row, element.Z] += fraction
    return fractions


def outside_compounds(
    fractions: np.ndarray, reference: np.ndarray, min_distance: float = SAME_COMPOUND_DISTANCE
) -> list[int]:
    """Indices of the candidate rows at least ``min_distance`` (L1) from every reference composition.

    Args:
        fractions: ``[n, 119]`` candidates' :func:`atom_fractions`.
        reference: ``[m, 119]`` reference :func:`atom_fractions`.
        min_distance: Distance below which a candidate counts as a reference compound.
    """
    if fractions.shape[1:] != (119,) or reference.shape[1:] != (119,):
        shapes = f"{fractions.shape} and {reference.shape}"
        raise ValueError(f"outside_compounds: expected [n, 119] atom fractions, got {shapes}")
    from scipy.spatial.distance import cdist

    nearest = np.full(len(fractions), np.inf)
    for start in range(0, len(reference), 256):  # bounded memory: [n, 256] distances at a time
        nearest = np.minimum(nearest, cdist(fractions, reference[start : start + 256], "cityblock").min(1))
    return np.flatnonzero(nearest >= min_distance).tolist()


def compound_row_filter(
    fractions: np.ndarray, records: Sequence[SuperconRecord | Structure], min_distance: float = SAME_COMPOUND_DISTANCE
) -> Callable[[Sequence[int]], list[int]]:
    """Which candidate rows a model may train beside when the given ``records`` are held out of it.

    The filter a forest-reading SODNet's forests use (``extra_rows`` of
    :func:`~matgl_supercon.training.out_of_fold_forest_state`): it maps the indices into ``records`` of the
    structures a forest does not grow on to the candidates at least ``min_distance`` from each of them
    (:func:`outside_compounds`, the ``compound`` scope of :func:`held_out_extra_rows`).

    Args:
        fractions: ``[n, 119]`` candidates' :func:`atom_fractions`.
        records: The records (or structures) the indices refer to.
        min_distance: Distance below which a candidate counts as a held-out compound.
    """

    def rows(held_out: Sequence[int]) -> list[int]:
        return outside_compounds(fractions, atom_fractions([records[i] for i in held_out]), min_distance)

    return rows


def held_out_extra_rows(
    systems: Sequence[frozenset[str]],
    fractions: np.ndarray,
    reference: Sequence[SuperconRecord | Structure],
    scope: ExtraScope,
    min_distance: float = SAME_COMPOUND_DISTANCE,
) -> list[int]:
    """Indices of the extra rows a fold may train on, given its held-out ``reference`` records and a ``scope``.

    Args:
        systems: Each candidate's :func:`chemical_system`.
        fractions: Each candidate's :func:`atom_fractions`.
        reference: The fold's held-out records (or structures).
        scope: One of :data:`EXTRA_SCOPES`.
        min_distance: The ``compound`` scopes' :data:`SAME_COMPOUND_DISTANCE`.
    """
    if scope not in EXTRA_SCOPES:
        raise ValueError(f"unknown extra-row scope {scope!r}; choose from {EXTRA_SCOPES}")
    if len(systems) != len(fractions):
        raise ValueError(f"held_out_extra_rows: {len(systems)} systems but {len(fractions)} atom-fraction rows")
    keep = set(range(len(systems)))
    if scope in ("system", "system_and_compound"):
        keep &= set(outside_chemical_systems(systems, reference))
    if scope in ("compound", "system_and_compound"):
        keep &= set(outside_compounds(fractions, atom_fractions(reference), min_distance))
    return sorted(keep)


#: Extra training sets for SuperCon3D folds, by name (see :func:`extra_training_records`).
ExtraTrainingSet = Literal["3dsc_new_systems", "formulas_new_systems", "3dsc_and_formulas_new_systems"]
EXTRA_TRAINING_SETS: tuple[str, ...] = get_args(ExtraTrainingSet)


def formula_records(root: str | Path | None = None) -> list[SuperconRecord]:
    """The superconductors (Tc > 0) of the formula-only SuperCon table, each as a :func:`virtual_crystal`.

    The eight rows whose formula does not parse are left out with a warning that names them. Metadata holds
    the table's ``formula`` and ``virtual_crystal: True`` (convert these records with ``allow_isolated=True``).
    """
    return [
        SuperconRecord(
            id=f"SuperCon row {r.id}",
            structure=virtual_crystal(r.composition),
            tc=r.tc,
            metadata={"formula": r.formula, "virtual_crystal": True},
        )
        for r in load_supercon_formulas(root, skip_invalid=True)
        if r.tc > 0
    ]


def extra_training_records(
    name: ExtraTrainingSet,
    reference: Sequence[SuperconRecord],
    root: str | Path | None = None,
    min_distance: float = 0.0,
) -> list[SuperconRecord]:
    """Extra training records outside the chemical systems of ``reference`` (e.g. SuperCon3D).

    Every set keeps only chemical systems absent from ``reference``: 3DSC_MP and the SuperCon formula table hold
    most SuperCon3D formulas with the same Tc. With ``min_distance`` (e.g. :data:`SAME_COMPOUND_DISTANCE`), rows
    that close to a reference composition go too: the system filter alone keeps lightly doped copies of reference
    compounds from neighbouring systems (``Mg0.997Fe0.003B2`` beside MgB2). The default 0 keeps the filter that
    the committed benchmark results used.

    * ``3dsc_new_systems``: the 3DSC_MP superconductors (Tc > 0), 1,720 structures against SuperCon3D.
    * ``formulas_new_systems``: the superconductors of the formula-only SuperCon table (Stanev et al. 2018) as
      one-site virtual crystals (:func:`formula_records`), 7,138 formulas against SuperCon3D.
    * ``3dsc_and_formulas_new_systems``: both.

    Args:
        name: One of :data:`EXTRA_TRAINING_SETS`.
        reference: The benchmark's records.
        root: Data root; default ``$MATGL_SUPERCON_DATA``.
        min_distance: Atom-fraction L1 distance (:func:`atom_fractions`) a kept row must have from every
            reference composition; 0 keeps every row of a new system.

    Returns:
        The extra records: 3DSC_MP first, then the formulas, each in its table's order.
    """
    if name not in EXTRA_TRAINING_SETS:
        raise ValueError(f"unknown extra training set {name!r}; choose from {EXTRA_TRAINING_SETS}")
    candidates = []
    if name.startswith("3dsc"):
        candidates += [r for r in load_3dsc_mp(root) if r.tc > 0]
    if name.endswith("formulas_new_systems"):
        candidates += formula_records(root)
    kept = in_new_chemical_systems(candidates, reference)
    if min_distance > 0 and reference:
        kept = [kept[i] for i in outside_compounds(atom_fractions(kept), atom_fractions(reference), min_distance)]
    return kept
