"""Descriptor features for the classical baselines, defined for ordered and disordered structures alike.

* Composition ("-c"): matminer's Magpie element-property statistics of ``structure.composition``. A
  disordered structure's composition carries its fractional occupancies, so the statistics are
  occupancy-weighted (Mg0.9Al0.1B2 is 0.9 parts Mg, 0.1 parts Al, 2 parts B).
* Geometry ("-geo"): the Magpie features plus cell and neighbour descriptors from our occupancy-aware
  graph (occupancy-weighted atoms per volume, mass density, nearest-neighbour distance statistics,
  occupancy-weighted coordination within 3.5 Å, sorted lattice-length ratios and angles, the fraction
  of vacant/mixed sites).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pymatgen.core import Structure

from matgl_supercon.graph import OccupancyStructure2Graph, periodic_neighbors


def magpie_features(structures: Sequence[Structure]) -> np.ndarray:
    """``[n, 132]`` Magpie statistics of each structure's (occupancy-weighted) composition."""
    from matminer.featurizers.composition import ElementProperty

    featurizer = ElementProperty.from_preset("magpie", impute_nan=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = [featurizer.featurize(s.composition) for s in structures]
    return np.asarray(rows, dtype=float)


def geometry_features(structures: Sequence[Structure]) -> np.ndarray:
    """``[n, 16]`` cell and neighbour descriptors (see the module docstring)."""
    # Overlapping atoms are described, not refused: the nearest-neighbour distances show them.
    converter = OccupancyStructure2Graph(cutoff=6.0, max_neighbors=None, allow_isolated=True, allow_overlaps=True)
    rows = []
    for s in structures:
        graph, lattice, _ = converter.get_graph(s)
        src, dst = graph.edge_index.numpy()
        cart = s.cart_coords
        dist = np.linalg.norm(cart[dst] + graph.pbc_offset.numpy() @ lattice[0].numpy() - cart[src], axis=1)
        weight = graph.edge_weight.numpy()
        occupancy = graph.occupancy.numpy().sum(1)
        nearest = np.full(len(s), 6.0)
        np.minimum.at(nearest, src, dist)
        coordination = np.bincount(src, weights=weight * (dist < 3.5), minlength=len(s))
        abc = np.sort(s.lattice.abc)
        rows.append(
            [
                occupancy.sum() / s.volume,
                s.density,
                np.average(nearest, weights=occupancy),
                nearest.min(),
                np.percentile(nearest, 90),
                np.average(coordination, weights=occupancy),
                coordination.max(),
                abc[0] / abc[2],
                abc[1] / abc[2],
                *np.sort(s.lattice.angles),
                float(graph.vacancy.mean()),
                float((graph.site_disorder == 1).float().mean()),
                float((graph.site_disorder >= 2).float().mean()),
                np.log(len(s)),
            ]
        )
    return np.asarray(rows, dtype=float)


#: Width of :func:`chgnet_features` rows: CHGNet's 64 pooled crystal features, energy per atom, mean |magmom|.
CHGNET_FEATURES = 66


def chgnet_features(
    structures: Sequence[Structure],
    batch_size: int = 1,
    max_bonds_per_atom: float = 100.0,
    on_dense: Literal["raise", "nan"] = "raise",
) -> np.ndarray:
    """``[n, 66]`` features of each structure from the pretrained CHGNet universal potential (Deng et al. 2023).

    CHGNet takes ordered crystals, so it reads each structure's
    :func:`~matgl_supercon.graph.ordered_approximant`. A row is CHGNet's pooled crystal feature vector (the
    atom features averaged before its energy head), its energy per atom (eV) and the mean absolute predicted
    magnetic moment (Bohr magnetons). The weights ship inside the ``chgnet`` wheel (``pip install chgnet``),
    so this works offline. Atoms without a neighbour within CHGNet's 6 Å graph cutoff are featurised as
    they are, with CHGNet's warning.

    Args:
        structures: Ordered or disordered crystals.
        batch_size: Structures per CHGNet call; memory grows with the batch's three-body graph. One at a time,
            all 1,578 SuperCon3D structures took 264 s on one CPU thread.
        max_bonds_per_atom: Most neighbours per atom within CHGNet's 3 Å bond cutoff that an approximant may
            have. Real crystals stay below 60 (SuperCon3D's densest hydrides); CHGNet's angle graph grows with
            the square, and SuperCon3D's broken Li1P2H14 CIF (69 atoms in 50 Å^3, 231 per atom) took 24 GB.
        on_dense: For a structure over that limit, ``"raise"`` a ``ValueError`` naming it, or give it a row of
            NaN (with a warning naming it) for the caller to fill in as it sees fit.

    Raises:
        ImportError: If ``chgnet`` is not installed.
        ValueError: For a structure over ``max_bonds_per_atom`` when ``on_dense="raise"``.
    """
    try:
        from chgnet.model import CHGNet
    except ImportError as error:
        raise ImportError("chgnet_features needs the chgnet package: pip install chgnet") from error
    from matgl_supercon.graph import ordered_approximant

    model = CHGNet.load(verbose=False)
    model.graph_converter.on_isolated_atoms = "warn"
    ordered = [ordered_approximant(s) for s in structures]
    dense: set[int] = set()
    for i, s in enumerate(ordered):
        bonds = bonds_per_atom(s, 3.0)
        if bonds > max_bonds_per_atom:
            message = (
                f"structure {i} ({structures[i].composition.reduced_formula}): its ordered approximant has "
                f"{bonds:.0f} neighbours per atom within 3 A (limit {max_bonds_per_atom:g}), too dense for CHGNet"
            )
            if on_dense == "raise":
                raise ValueError(message)
            warnings.warn(message + "; its features are NaN", stacklevel=2)
            dense.add(i)
    feasible = [i for i in range(len(ordered)) if i not in dense]
    rows = np.full((len(structures), CHGNET_FEATURES), np.nan)
    for start in range(0, len(feasible), batch_size):
        index = feasible[start : start + batch_size]
        chunk = [ordered[i] for i in index]
        with warnings.catch_warnings():
            # CHGNet converts a volume tensor that requires grad to a number: harmless, and once per call.
            warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True")
            out = model.predict_structure(chunk, task="em", return_crystal_feas=True, batch_size=batch_size)
        out = [out] if isinstance(out, dict) else out
        for i, p in zip(index, out, strict=True):
            rows[i] = np.concatenate([p["crystal_fea"], [float(p["e"]), float(np.abs(p["m"]).mean())]])
    return rows


def bonds_per_atom(structure: Structure, cutoff: float) -> float:
    """Mean number of neighbours within ``cutoff`` (Å) per site, periodic images included."""
    src, *_ = periodic_neighbors(structure.cart_coords, structure.lattice.matrix, cutoff)
    return len(src) / len(structure)
