"""matgl-supercon: learn and design superconductors from ordered and disordered crystal structures.

Built on MatGL (PyG backend). Cite Chen et al., "Learning Superconductivity from Ordered and
Disordered Material Structures", NeurIPS 2024 (SuperCon3D, SODNet, DiffCSP-SC).
"""

from __future__ import annotations

from matgl_supercon.graph import DISORDER_TYPES, OccupancyStructure2Graph, classify_disorder

__version__ = "0.1.0"

__all__ = ["DISORDER_TYPES", "OccupancyStructure2Graph", "__version__", "classify_disorder"]
