"""Site occupancies, positional-disorder groups and disorder labels of a (possibly disordered) crystal.

Definitions follow the SuperCon3D paper (Chen et al., NeurIPS 2024):

* ordered: one species with occupancy 1;
* SD (substitutional disorder): several species share the site;
* PD (positional disorder): the site is one of several nearby, partially occupied, alternative
  positions of one atom;
* SPD: both on one site;
* vacancy: one species, total occupancy below 1, no alternative position.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pymatgen.core import Structure
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from matgl_supercon.graph._formula import describe_site
from matgl_supercon.graph._neighbors import periodic_neighbors

DisorderType = Literal["ordered", "SD", "PD", "SPD", "vacancy"]
#: Label order; integer codes in graphs are positions in this tuple.
DISORDER_TYPES: tuple[DisorderType, ...] = ("ordered", "SD", "PD", "SPD", "vacancy")
#: Occupancies are compared with this tolerance (CIFs round them to a few digits).
OCCUPANCY_TOL = 1e-3
#: Two atoms closer than this (Å) cannot both be present; the shortest bond, H2's, is 0.74 Å.
MIN_ATOM_DISTANCE = 0.5


def validate_structure(structure: Structure) -> None:
    """Raise ``ValueError`` for a structure no graph can be built from.

    Args:
        structure: Input crystal.

    Raises:
        ValueError: No sites, a non-finite or degenerate lattice, or non-finite coordinates (the site is named).
    """
    if len(structure) == 0:
        raise ValueError("structure has no sites")
    matrix = structure.lattice.matrix
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"lattice has non-finite entries: {matrix.tolist()}")
    if abs(np.linalg.det(matrix)) < 1e-6:
        raise ValueError(f"lattice is degenerate (volume {abs(np.linalg.det(matrix)):.3g} A^3)")
    frac = structure.frac_coords
    bad = np.flatnonzero(~np.all(np.isfinite(frac), axis=1))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"site {i} ({structure[i].species}) has non-finite coordinates {frac[i].tolist()}")


def overlapping_edges(total_occupancy: np.ndarray, src: np.ndarray, dst: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Mask of the neighbour pairs that put more than one atom in one place.

    Sites closer than :data:`MIN_ATOM_DISTANCE` may be alternative positions of one atom only if their total
    occupancies sum to at most 1; beyond that the crystal holds two atoms (or an atom and its periodic image)
    where there is room for one: typically a CIF that lists an atom twice, or a cell too short for its atoms.

    Args:
        total_occupancy: ``[n_sites]`` total occupancy per site.
        src: Edge sources.
        dst: Edge destinations (``src == dst`` for a site's periodic image).
        dist: Edge lengths (Å).

    Returns:
        ``[n_edges]`` bool mask.
    """
    summed = total_occupancy[src] + total_occupancy[dst]
    return (dist < MIN_ATOM_DISTANCE) & (summed > 1 + OCCUPANCY_TOL)


def occupancy_matrix(structure: Structure, element_types: tuple[str, ...]) -> np.ndarray:
    """Occupancy of every site over ``element_types``.

    Args:
        structure: Input crystal; oxidation states are ignored.
        element_types: The fixed element list (graph columns).

    Returns:
        ``[n_sites, len(element_types)]`` float64 array.

    Raises:
        ValueError: Naming the site when it holds an element outside ``element_types`` or a total
            occupancy above 1 (beyond :data:`OCCUPANCY_TOL`).
    """
    column = {el: i for i, el in enumerate(element_types)}
    occ = np.zeros((len(structure), len(element_types)))
    for i, site in enumerate(structure):
        for species, amount in site.species.items():
            symbol = getattr(species, "symbol", str(species))
            j = column.get(symbol)
            if j is None:
                raise ValueError(
                    f"{describe_site(structure, i)}: element {symbol!r} is not in the converter's element list"
                )
            occ[i, j] += amount
        total = occ[i].sum()
        if total > 1 + OCCUPANCY_TOL:
            raise ValueError(f"{describe_site(structure, i)}: total occupancy {total:.4f} exceeds 1")
    return occ


@dataclass(frozen=True)
class PositionalGroups:
    """Clusters of alternative positions of one atom.

    Attributes:
        group: ``[n_sites]`` cluster id, ``-1`` for sites in no cluster.
        image: ``[n_sites, 3]`` integer lattice translation placing each member next to the others
            of its cluster (zero for the cluster's first site).
    """

    group: np.ndarray
    image: np.ndarray


def positional_groups(structure: Structure, total_occupancy: np.ndarray, tolerance: float = 1.2) -> PositionalGroups:
    """Find positional disorder: partially occupied sites that are alternatives of one atom.

    Two sites are alternatives when both are partially occupied, they are closer than ``tolerance``
    (Å), and their total occupancies sum to at most 1: two atoms that closely spaced could not be
    present together, and the occupancy sum rules out short real bonds between two partially
    occupied sites (e.g. C2 dimers at 1.32 Å with occupancy 0.9 in Y-C carbides). Connected pairs form
    a group.

    Args:
        structure: Input crystal.
        total_occupancy: ``[n_sites]`` total occupancy per site.
        tolerance: Largest distance (Å) between alternative positions.

    Returns:
        The groups, with the periodic image of each member that lies next to the others.
    """
    n = len(structure)
    group = np.full(n, -1, dtype=np.int64)
    image = np.zeros((n, 3), dtype=np.int64)
    partial = np.flatnonzero(total_occupancy < 1 - OCCUPANCY_TOL)
    if partial.size < 2 or tolerance <= 0:
        return PositionalGroups(group, image)
    cart = np.ascontiguousarray(structure.cart_coords[partial], dtype=float)
    src, dst, images, dist = periodic_neighbors(cart, structure.lattice.matrix, tolerance)
    keep = (src != dst) & (dist < tolerance)
    keep &= total_occupancy[partial[src]] + total_occupancy[partial[dst]] <= 1 + OCCUPANCY_TOL
    src, dst, images = src[keep], dst[keep], images[keep].astype(np.int64)
    if src.size == 0:
        return PositionalGroups(group, image)
    m = partial.size
    n_comp, comp = connected_components(coo_matrix((np.ones(src.size), (src, dst)), shape=(m, m)), directed=False)
    sizes = np.bincount(comp, minlength=n_comp)
    # Relabel clusters of two or more sites as 0, 1, ... in site order; breadth-first search over the
    # (few) PD pairs gives each member the image that sits next to its cluster's first site.
    adjacency: dict[int, list[tuple[int, np.ndarray]]] = {}
    for a, b, img in zip(src.tolist(), dst.tolist(), images, strict=True):
        adjacency.setdefault(a, []).append((b, img))
    next_id = 0
    for start in range(m):
        if sizes[comp[start]] < 2 or group[partial[start]] >= 0:
            continue
        group[partial[start]] = next_id
        queue = deque([start])
        while queue:
            a = queue.popleft()
            for b, img in adjacency.get(a, []):
                if group[partial[b]] < 0:
                    group[partial[b]] = next_id
                    image[partial[b]] = image[partial[a]] + img
                    queue.append(b)
        next_id += 1
    return PositionalGroups(group, image)


def site_disorder(occupancy: np.ndarray, groups: PositionalGroups) -> np.ndarray:
    """Integer disorder code of each site (positions in :data:`DISORDER_TYPES`).

    Args:
        occupancy: ``[n_sites, n_elements]`` occupancies.
        groups: Positional-disorder groups of the same sites.

    Returns:
        ``[n_sites]`` int64 codes.
    """
    multi = (occupancy > 0).sum(axis=1) > 1
    in_group = groups.group >= 0
    vacancy = occupancy.sum(axis=1) < 1 - OCCUPANCY_TOL
    codes = np.zeros(len(occupancy), dtype=np.int64)
    codes[vacancy] = DISORDER_TYPES.index("vacancy")
    codes[multi] = DISORDER_TYPES.index("SD")
    codes[in_group] = DISORDER_TYPES.index("PD")
    codes[in_group & multi] = DISORDER_TYPES.index("SPD")
    return codes


def structure_disorder(site_codes: np.ndarray) -> DisorderType:
    """Disorder type of a whole structure from its site codes.

    SD and PD on different sites make the structure SPD; a structure whose only imperfection is
    partial occupancy without alternative positions is ``"vacancy"``.

    Args:
        site_codes: Output of :func:`site_disorder`.

    Returns:
        One of :data:`DISORDER_TYPES`.
    """
    present = {DISORDER_TYPES[c] for c in np.unique(site_codes)}
    has_sd = bool(present & {"SD", "SPD"})
    has_pd = bool(present & {"PD", "SPD"})
    if has_sd and has_pd:
        return "SPD"
    if has_pd:
        return "PD"
    if has_sd:
        return "SD"
    if "vacancy" in present:
        return "vacancy"
    return "ordered"


def ordered_approximant(
    structure: Structure, tolerance: float = 1.2, min_distance: float = MIN_ATOM_DISTANCE
) -> Structure:
    """A deterministic ordered stand-in for a disordered crystal, for models that only take ordered input.

    Universal interatomic potentials (CHGNet, M3GNet, ...) need one fully occupied element per site. Every kept
    site becomes its majority element. Occupancies are read as probabilities of an atom and rounded: a site outside
    any group of alternative positions (:func:`positional_groups`) is kept when its total occupancy is at least
    half the largest in the structure (0.5 whenever some site is full; a CIF whose occupancies are all scaled
    down still gives its parent compound), and a group of alternative positions keeps ``n`` atoms, ``n`` its
    pooled occupancy rounded (at least 1): its sites are visited from the most occupied down (then in site order)
    and one is taken unless a taken member of its group lies within ``tolerance``. Two half-occupied positions of
    one atom give one atom, sixteen positions at 1/16 on a ring give one, the two orientations of a C60 cage give
    one cage, and a 6 % interstitial is dropped. Last, no two atoms are closer than ``min_distance``: of such a
    pair the more occupied (then earlier) site stays, so an atom a CIF lists twice becomes one. An ordered
    structure without such pairs comes back unchanged (less oxidation states). This is not a model of the
    disorder: the composition moves to the nearest ordered compound (La1.85Sr0.15CuO4 becomes La2CuO4), which
    is why SODNet reads occupancies instead.

    Args:
        structure: Ordered or disordered crystal (validated as the graph converter does).
        tolerance: Largest distance (Å) between alternative positions, as in :func:`positional_groups`.
        min_distance: Closest two atoms of the approximant may be (Å).

    Returns:
        A new ordered ``Structure`` on the same lattice, its sites in the input's order.
    """
    validate_structure(structure)
    elements = tuple(sorted({el.symbol for site in structure for el in site.species.elements}))
    occupancy = occupancy_matrix(structure, elements)
    total = occupancy.sum(axis=1)
    group = positional_groups(structure, total, tolerance).group
    atoms = {g: max(1, round(total[group == g].sum())) for g in np.unique(group[group >= 0]).tolist()}
    taken: dict[int, list[int]] = {g: [] for g in atoms}
    lone = np.flatnonzero(group < 0)
    kept = [int(i) for i in lone if total[i] >= 0.5 * total.max() - OCCUPANCY_TOL]
    for i in sorted(np.flatnonzero(group >= 0).tolist(), key=lambda i: (-total[i], i)):
        mates = taken[int(group[i])]
        if len(mates) < atoms[int(group[i])] and all(structure.get_distance(i, j) >= tolerance for j in mates):
            mates.append(i)
    kept = sorted(kept + [i for mates in taken.values() for i in mates])
    if len(kept) > 1:
        distance = structure.lattice.get_all_distances(structure.frac_coords[kept], structure.frac_coords[kept])
        clash = distance < min_distance
        np.fill_diagonal(clash, False)
        removed: set[int] = set()
        for a in sorted(range(len(kept)), key=lambda a: (-total[kept[a]], kept[a])):
            if a not in removed:
                removed.update(b for b in np.flatnonzero(clash[a]).tolist() if b not in removed and b != a)
        kept = [i for a, i in enumerate(kept) if a not in removed]
    species = [elements[int(np.argmax(occupancy[i]))] for i in kept]
    return Structure(structure.lattice, species, structure.frac_coords[kept])
