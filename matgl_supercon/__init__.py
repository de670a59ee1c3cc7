"""matgl-supercon: learn and design superconductors from ordered and disordered crystal structures.

Built on MatGL (PyG backend). Cite Chen et al., "Learning Superconductivity from Ordered and
Disordered Material Structures", NeurIPS 2024 (SuperCon3D, SODNet, DiffCSP-SC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matgl_supercon._lazy import lazy_exports

if TYPE_CHECKING:
    from matgl_supercon.graph import DISORDER_TYPES, OccupancyStructure2Graph, classify_disorder

__version__ = "0.1.0"

__all__ = ["DISORDER_TYPES", "OccupancyStructure2Graph", "__version__", "classify_disorder"]
__getattr__, __dir__ = lazy_exports(
    globals(), dict.fromkeys(["DISORDER_TYPES", "OccupancyStructure2Graph", "classify_disorder"], "graph")
)
