"""Occupancy-aware graph conversion and disorder classification."""

from __future__ import annotations

from matgl_supercon.graph._converter import (
    ALL_ELEMENTS,
    VIRTUAL_CELL,
    GraphSummary,
    OccupancyStructure2Graph,
    as_structure,
    atoms_to_structure,
    check_neighbour_settings,
    classify_disorder,
    virtual_crystal,
)
from matgl_supercon.graph._disorder import (
    DISORDER_TYPES,
    MIN_ATOM_DISTANCE,
    OCCUPANCY_TOL,
    DisorderType,
    PositionalGroups,
    occupancy_matrix,
    ordered_approximant,
    overlapping_edges,
    positional_groups,
    site_disorder,
    structure_disorder,
)
from matgl_supercon.graph._formula import compact_formula, describe_structure
from matgl_supercon.graph._neighbors import kth_distance, nearest_k_mask, periodic_neighbors

__all__ = [
    "ALL_ELEMENTS",
    "DISORDER_TYPES",
    "MIN_ATOM_DISTANCE",
    "OCCUPANCY_TOL",
    "VIRTUAL_CELL",
    "DisorderType",
    "GraphSummary",
    "OccupancyStructure2Graph",
    "PositionalGroups",
    "as_structure",
    "atoms_to_structure",
    "check_neighbour_settings",
    "classify_disorder",
    "compact_formula",
    "describe_structure",
    "kth_distance",
    "nearest_k_mask",
    "occupancy_matrix",
    "ordered_approximant",
    "overlapping_edges",
    "periodic_neighbors",
    "positional_groups",
    "site_disorder",
    "structure_disorder",
    "virtual_crystal",
]
