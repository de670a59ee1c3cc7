"""``OccupancyStructure2Graph``: MatGL graphs for ordered and disordered crystals."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matgl
import numpy as np
import torch
from matgl.graph.converters import GraphConverter
from pymatgen.core import Composition, DummySpecies, Element, Lattice, Structure
from torch_geometric.data import Data

from matgl_supercon.graph._disorder import (
    DISORDER_TYPES,
    OCCUPANCY_TOL,
    DisorderType,
    PositionalGroups,
    occupancy_matrix,
    overlapping_edges,
    positional_groups,
    site_disorder,
    structure_disorder,
    validate_structure,
)
from matgl_supercon.graph._formula import compact_formula, describe_site
from matgl_supercon.graph._neighbors import initial_radius, kth_distance, periodic_neighbors

if TYPE_CHECKING:
    from ase import Atoms

#: Every element from H to Lr (Z = 1..103), the default column order of occupancy vectors. MatGL's own
#: default list skips elements such as Po, which occurs in SuperCon3D hydrides.
ALL_ELEMENTS: tuple[str, ...] = tuple(Element.from_Z(z).symbol for z in range(1, 104))


def atoms_to_structure(atoms: Atoms) -> Structure:
    """Convert ASE ``Atoms`` to a pymatgen ``Structure``, keeping ASE's CIF occupancies.

    ASE's CIF reader stores partial occupancies as ``atoms.info["occupancy"]`` (site kind -> {symbol: occupancy})
    and each atom's kind in ``atoms.arrays["spacegroup_kinds"]``; older ASE versions gave the kind as the atom's
    tag, which is read when that array is absent.

    Args:
        atoms: A periodic ASE ``Atoms``.

    Returns:
        The structure; sites carry the occupancy dict of their kind when ``info["occupancy"]`` exists.

    Raises:
        ValueError: When the atoms are not periodic in all three directions (a molecule, or a cell whose ``pbc``
            was left at ASE's default of False), or an atom's kind has no occupancy entry or its own element is
            missing from it (the result would silently be wrong).
    """
    if not atoms.pbc.all():
        raise ValueError(
            f"{atoms.get_chemical_formula()}: pbc is {tuple(bool(p) for p in atoms.pbc)}, but a crystal is periodic "
            "in all three directions; set atoms.pbc = True if its cell is the crystal's"
        )
    occupancy = atoms.info.get("occupancy")
    if not occupancy:
        return Structure(atoms.cell.array, atoms.get_chemical_symbols(), atoms.get_scaled_positions(wrap=False))
    kinds, label = atoms.arrays.get("spacegroup_kinds"), "kind"
    if kinds is None:
        kinds, label = atoms.get_tags(), "tag"
    species = []
    for i, (kind, symbol) in enumerate(zip(kinds, atoms.get_chemical_symbols(), strict=True)):
        entry = occupancy.get(str(kind), occupancy.get(kind))
        if entry is None or symbol not in entry:
            raise ValueError(
                f"atom {i} ({symbol}, {label} {kind}): atoms.info['occupancy'] has no entry for it; "
                "read disordered CIFs with pymatgen (Structure.from_file) instead"
            )
        total = sum(entry.values())
        if total > 1 + OCCUPANCY_TOL:
            raise ValueError(f"atom {i} ({symbol}, {label} {kind}): total occupancy {total:.4f} exceeds 1")
        species.append(dict(entry))
    return Structure(atoms.cell.array, species, atoms.get_scaled_positions(wrap=False))


def check_neighbour_settings(cutoff: float, max_neighbors: int | None) -> None:
    """Refuse a neighbour cutoff that is not a positive finite distance, or a neighbour count below 1.

    Raises:
        ValueError: Naming the setting and its value (a NaN cutoff passes ``cutoff <= 0``, and the neighbour
            search then never ends).
    """
    if not (cutoff > 0 and math.isfinite(cutoff)):
        raise ValueError(f"cutoff must be a positive number of A, got {cutoff}")
    if max_neighbors is not None and max_neighbors < 1:
        raise ValueError(f"max_neighbors must be at least 1 or None, got {max_neighbors}")


def as_structure(crystal: Structure | Atoms) -> Structure:
    """The pymatgen ``Structure`` of a crystal given either as one or as ASE ``Atoms`` (see :func:`atoms_to_structure`).

    Raises:
        TypeError: For anything else, naming what was passed.
    """
    if isinstance(crystal, Structure):
        return crystal
    from ase import Atoms

    if isinstance(crystal, Atoms):
        return atoms_to_structure(crystal)
    raise TypeError(f"expected a pymatgen Structure or ASE Atoms, got {type(crystal).__name__}: {crystal!r:.80}")


#: Edge of the cubic cell of :func:`virtual_crystal` (Å): longer than any model cutoff, so its site has no neighbour.
VIRTUAL_CELL = 20.0


def virtual_crystal(composition: Composition | str, cell: float = VIRTUAL_CELL) -> Structure:
    """A one-site stand-in crystal for a formula without a structure.

    Its only site holds the composition's atom fractions (a virtual-crystal site) in a cubic cell wider than
    the cutoff, so an occupancy-aware graph of it has one node, no edges and the formula's composition
    statistics. That lets formula-only Tc tables (e.g. :func:`matgl_supercon.data.load_supercon_formulas`)
    train the element and composition parts of a model beside real structures; convert it with
    ``allow_isolated=True``.

    Args:
        composition: The formula.
        cell: Edge of the cubic cell in Å; keep it above the converter's cutoff.

    Returns:
        An ordered structure for one element, else a one-site disordered structure.

    Raises:
        ValueError: For a formula pymatgen cannot parse, one without atoms, or a symbol that is not an element.
    """
    fractions = Composition(composition).fractional_composition
    if not fractions.num_atoms:
        raise ValueError(f"composition {composition!r} has no atoms")
    # pymatgen reads an unknown symbol ('Xx2') as a dummy species; no element list holds one.
    dummies = [species.symbol for species in fractions if isinstance(species, DummySpecies)]
    if dummies:
        raise ValueError(f"composition {composition!r}: {', '.join(map(repr, dummies))} is not an element")
    return Structure(Lattice.cubic(cell), [fractions], [[0.0, 0.0, 0.0]])


@dataclass(frozen=True)
class GraphSummary:
    """What a converted graph holds, for printing."""

    formula: str
    disorder: DisorderType
    n_sites: int
    n_edges: int
    site_disorder_counts: dict[str, int]
    n_pd_groups: int
    mean_edge_weight: float

    def __str__(self) -> str:
        sites = ", ".join(f"{k}: {v}" for k, v in self.site_disorder_counts.items() if v)
        return (
            f"{self.formula}: {self.disorder} | {self.n_sites} sites ({sites}) | {self.n_edges} edges, "
            f"{self.n_pd_groups} positional-disorder groups, mean edge occupancy weight {self.mean_edge_weight:.3f}"
        )


class OccupancyStructure2Graph(GraphConverter):
    """Construct a MatGL (PyG) graph from a crystal with partial occupancies.

    The graph has MatGL's fields (``edge_index``, ``pbc_offset``, ``node_type``, ``frac_coords``), so
    MatGL datasets, loaders and Lightning modules take it unchanged, plus:

    * ``occupancy`` ``[n, n_elements]`` and ``vacancy`` ``[n]`` (1 - total occupancy) per site;
    * ``edge_weight`` ``[n_edges]``: product of the two sites' total occupancies;
    * ``site_disorder`` ``[n]`` and ``disorder`` ``[1]``: codes into :data:`DISORDER_TYPES`;
    * ``pd_group`` ``[n]``: positional-disorder cluster of the site, ``-1`` if none.

    ``node_type`` is the majority species of each site (the first in ``element_types`` on a tie), so
    an ordered structure gives the graph of MatGL's ``Structure2Graph`` when ``max_neighbors=None``.
    """

    def __init__(
        self,
        element_types: tuple[str, ...] = ALL_ELEMENTS,
        cutoff: float = 8.0,
        max_neighbors: int | None = 32,
        pd_tolerance: float = 1.2,
        tie_tolerance: float = 1e-4,
        allow_isolated: bool = False,
        allow_overlaps: bool = False,
    ) -> None:
        """Initialise the converter.

        Args:
            element_types: Fixed element list; occupancy columns and ``node_type`` index into it.
            cutoff: Neighbour radius in Å.
            max_neighbors: Neighbours kept per site (nearest first, ties with the last one kept too);
                ``None`` keeps every neighbour within the cutoff.
            pd_tolerance: Largest distance (Å) between alternative positions of one atom.
            tie_tolerance: Distance (Å) within which neighbours tie with the ``max_neighbors``-th.
            allow_isolated: Accept sites with no neighbour inside the cutoff instead of raising.
            allow_overlaps: Accept atoms closer than :data:`MIN_ATOM_DISTANCE` whose occupancies sum above 1
                (see :func:`overlapping_edges`) instead of raising; five SuperCon3D CIFs need it.
        """
        check_neighbour_settings(cutoff, max_neighbors)
        for name, value in (("pd_tolerance", pd_tolerance), ("tie_tolerance", tie_tolerance)):
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite distance of at least 0 A, got {value}")
        self.element_types = tuple(element_types)
        self.cutoff = float(cutoff)
        self.max_neighbors = max_neighbors
        self.pd_tolerance = float(pd_tolerance)
        self.tie_tolerance = float(tie_tolerance)
        self.allow_isolated = allow_isolated
        self.allow_overlaps = allow_overlaps

    def get_graph(self, structure: Structure | Atoms) -> tuple[Data, torch.Tensor, np.ndarray]:
        """Convert one crystal.

        Args:
            structure: pymatgen ``Structure`` (ordered or disordered) or ASE ``Atoms``.

        Returns:
            ``(graph, lattice [1, 3, 3], state_attr)`` as MatGL converters return them.

        Raises:
            ValueError: Naming the site and the problem for invalid input.
        """
        structure = as_structure(structure)
        validate_structure(structure)
        occupancy = occupancy_matrix(structure, self.element_types)
        total = occupancy.sum(axis=1)
        groups = positional_groups(structure, total, self.pd_tolerance)
        codes = site_disorder(occupancy, groups)

        lattice_matrix = np.array(structure.lattice.matrix)
        src, dst, images, dist = self._neighbors(structure, lattice_matrix, groups)
        if not self.allow_overlaps:
            overlaps = np.flatnonzero(overlapping_edges(total, src, dst, dist))
            if overlaps.size:
                a, b = int(src[overlaps[0]]), int(dst[overlaps[0]])
                other, why = (
                    ("its periodic image", "a cell too short")
                    if a == b
                    else (describe_site(structure, b), "an atom listed twice")
                )
                raise ValueError(
                    f"{describe_site(structure, a)} and {other} are {dist[overlaps[0]]:.3f} A apart with occupancies "
                    f"summing to {total[a] + total[b]:.3f}: two atoms where there is room for one ({why}?); "
                    "allow_overlaps=True (--allow-overlaps on the command line) accepts it"
                )
        if not self.allow_isolated:
            lonely = np.setdiff1d(np.arange(len(structure)), src)
            if lonely.size:
                raise ValueError(
                    f"{describe_site(structure, int(lonely[0]))} has no neighbour within the {self.cutoff} A cutoff "
                    "(allow_isolated=True accepts it)"
                )

        graph = Data(num_nodes=len(structure), edge_index=torch.as_tensor(np.stack([src, dst]), dtype=matgl.int_th))
        graph.pbc_offset = torch.as_tensor(images, dtype=matgl.float_th)
        graph.node_type = torch.as_tensor(occupancy.argmax(axis=1), dtype=torch.long)
        graph.frac_coords = torch.as_tensor(structure.frac_coords, dtype=matgl.float_th)
        graph.occupancy = torch.as_tensor(occupancy, dtype=matgl.float_th)
        graph.vacancy = torch.as_tensor(np.clip(1.0 - total, 0.0, None), dtype=matgl.float_th)
        graph.edge_weight = torch.as_tensor(total[src] * total[dst], dtype=matgl.float_th)
        graph.site_disorder = torch.as_tensor(codes, dtype=torch.long)
        graph.pd_group = torch.as_tensor(groups.group, dtype=torch.long)
        graph.disorder = torch.tensor([DISORDER_TYPES.index(structure_disorder(codes))], dtype=torch.long)
        lattice = torch.as_tensor(lattice_matrix[None], dtype=matgl.float_th)
        state_attr = np.array([0.0, 0.0], dtype=matgl.float_np)
        return graph, lattice, state_attr

    def _neighbors(
        self, structure: Structure, lattice_matrix: np.ndarray, groups: PositionalGroups
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Edges after the positional-disorder and K-nearest cuts, in the search's order."""
        cart = structure.cart_coords
        k = self.max_neighbors
        # With a K cut, search a small sphere first and widen it only while some site's K-th
        # neighbour (plus ties) might lie outside it: the same edges as a full search, found sooner.
        radius = self.cutoff if k is None else min(self.cutoff, initial_radius(structure.volume, len(structure), k))
        while True:
            src, dst, images, dist = periodic_neighbors(cart, lattice_matrix, radius)
            if (groups.group >= 0).any():
                same = (groups.group[src] == groups.group[dst]) & (groups.group[src] >= 0)
                # Drop edges between members of one cluster copy (and any close pair within a cluster).
                inside = same & (
                    np.all(images == groups.image[dst] - groups.image[src], axis=1) | (dist < self.pd_tolerance)
                )
                src, dst, images, dist = src[~inside], dst[~inside], images[~inside], dist[~inside]
            if k is None:
                return src, dst, images, dist
            kth = kth_distance(src, dist, len(structure), k)
            if radius >= self.cutoff or np.all(kth + self.tie_tolerance < radius):
                keep = dist <= kth[src] + self.tie_tolerance
                return src[keep], dst[keep], images[keep], dist[keep]
            radius = min(self.cutoff, radius * 1.5)

    def summary(self, structure: Structure | Atoms) -> GraphSummary:
        """Convert ``structure`` and describe the graph in one line (see :class:`GraphSummary`)."""
        structure = as_structure(structure)
        graph, _, _ = self.get_graph(structure)
        counts = np.bincount(graph.site_disorder.numpy(), minlength=len(DISORDER_TYPES))
        return GraphSummary(
            formula=compact_formula(structure.composition),
            disorder=DISORDER_TYPES[int(graph.disorder)],
            n_sites=graph.num_nodes,
            n_edges=graph.edge_index.shape[1],
            site_disorder_counts={name: int(c) for name, c in zip(DISORDER_TYPES, counts, strict=True)},
            n_pd_groups=int(graph.pd_group.max()) + 1,
            mean_edge_weight=float(graph.edge_weight.mean()) if graph.edge_weight.numel() else float("nan"),
        )


def classify_disorder(
    structure: Structure | Atoms, pd_tolerance: float = 1.2
) -> tuple[DisorderType, list[DisorderType]]:
    """Disorder type of a structure and of each of its sites, without building a graph.

    Args:
        structure: Input crystal (pymatgen ``Structure`` or ASE ``Atoms``).
        pd_tolerance: Largest distance (Å) between alternative positions of one atom.

    Returns:
        ``(structure_type, site_types)``.
    """
    structure = as_structure(structure)
    validate_structure(structure)
    elements = tuple(sorted({getattr(sp, "symbol", str(sp)) for site in structure for sp in site.species}))
    occupancy = occupancy_matrix(structure, elements)
    codes = site_disorder(occupancy, positional_groups(structure, occupancy.sum(axis=1), pd_tolerance))
    return structure_disorder(codes), [DISORDER_TYPES[c] for c in codes]
