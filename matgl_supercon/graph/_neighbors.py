"""Periodic neighbour search with a tie-aware K-nearest cut, vectorised over edges."""

from __future__ import annotations

import numpy as np
from pymatgen.optimization.neighbors import find_points_in_spheres

_PBC = np.array([1, 1, 1], dtype=np.int64)
_SELF_TOL = 1e-8
#: Most cells one search may visit; beyond it the lattice is degenerate (too flat or absurdly large).
MAX_SEARCH_CELLS = 1_000_000


def search_cells(lattice: np.ndarray, cutoff: float) -> float:
    """Cells a periodic search of radius ``cutoff`` visits: the larger of its image cells and its grid boxes.

    A flat cell needs many periodic images to fill the sphere; a huge cell makes pymatgen's grid of
    ``cutoff``-sized boxes over it huge. Either can ask for hundreds of GB, so both are bounded.
    """
    volume = abs(float(np.linalg.det(lattice)))
    images = 1.0
    for i in range(3):
        # Perpendicular width of the cell along axis i: volume / |a_j x a_k|.
        area = float(np.linalg.norm(np.cross(lattice[(i + 1) % 3], lattice[(i + 2) % 3])))
        if area <= 0 or volume <= 0:
            return float("inf")
        images *= 2 * np.ceil(cutoff * area / volume) + 1
    boxes = float(np.prod(np.abs(lattice).sum(axis=0) / cutoff + 3))
    return max(images, boxes)


def periodic_neighbors(
    cart_coords: np.ndarray, lattice: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All periodic neighbour pairs within ``cutoff``, in pymatgen's order, without self pairs.

    This is the exact search MatGL's ``Structure2Graph`` runs, so ordered graphs match it edge for edge.

    Args:
        cart_coords: ``[n, 3]`` Cartesian coordinates.
        lattice: ``[3, 3]`` lattice matrix (rows are vectors).
        cutoff: Radius in Å.

    Returns:
        ``(src, dst, images, distances)``: ``dst`` lies at ``cart[dst] + images @ lattice``.

    Raises:
        ValueError: If the search would visit more than ``MAX_SEARCH_CELLS`` cells (see :func:`search_cells`;
            pymatgen would try to allocate hundreds of GB for such a lattice).
    """
    lattice = np.asarray(lattice, dtype=float)
    cells = search_cells(lattice, cutoff) if np.isfinite(lattice).all() else float("inf")
    if cells > MAX_SEARCH_CELLS:
        raise ValueError(
            f"degenerate lattice (parameters {np.round(np.linalg.norm(lattice, axis=1), 3).tolist()} A, volume "
            f"{abs(float(np.linalg.det(lattice))):.3g} A^3): a {cutoff} A search needs {cells:.3g} cells"
        )
    src, dst, images, dist = find_points_in_spheres(
        np.ascontiguousarray(cart_coords, dtype=float),
        np.ascontiguousarray(cart_coords, dtype=float),
        r=float(cutoff),
        pbc=_PBC,
        lattice=np.ascontiguousarray(lattice, dtype=float),
        tol=_SELF_TOL,
    )
    keep = (src != dst) | (dist > _SELF_TOL)
    return src[keep], dst[keep], images[keep], dist[keep]


def kth_distance(src: np.ndarray, dist: np.ndarray, n_nodes: int, k: int) -> np.ndarray:
    """Distance of the ``k``-th nearest edge of each node (``inf`` where a node has fewer than ``k``)."""
    kth = np.full(n_nodes, np.inf)
    if src.size == 0:
        return kth
    order = np.lexsort((dist, src))
    counts = np.bincount(src, minlength=n_nodes)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    has_k = counts >= k
    kth[has_k] = dist[order][starts[has_k] + k - 1]
    return kth


def nearest_k_mask(src: np.ndarray, dist: np.ndarray, n_nodes: int, k: int, tie_tol: float = 1e-4) -> np.ndarray:
    """Mask keeping, for every source node, its ``k`` nearest edges plus all edges tied with the k-th.

    Keeping ties makes the graph independent of the order in which the search returns equidistant
    neighbours, so symmetric crystals and their supercells get identical neighbourhoods.

    Args:
        src: ``[n_edges]`` source node of each edge.
        dist: ``[n_edges]`` edge length.
        n_nodes: Number of nodes.
        k: Neighbours kept per node.
        tie_tol: Distances within this of the k-th one (Å) count as ties.

    Returns:
        ``[n_edges]`` boolean mask.
    """
    return dist <= kth_distance(src, dist, n_nodes, k)[src] + tie_tol


def initial_radius(volume: float, n_sites: int, k: int) -> float:
    """Radius of a sphere expected to hold about ``1.5 k`` sites at the crystal's mean density."""
    return float((3 * 1.5 * (k + 1) * volume / (4 * np.pi * n_sites)) ** (1 / 3))
