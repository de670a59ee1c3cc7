"""matgl-supercon: learn and design superconductors from ordered and disordered crystal structures.

Built on MatGL (PyG backend). Cite Chen et al., "Learning Superconductivity from Ordered and
Disordered Material Structures", NeurIPS 2024 (SuperCon3D, SODNet, DiffCSP-SC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matgl_supercon._lazy import lazy_exports

if TYPE_CHECKING:
    from matgl_supercon.graph import DISORDER_TYPES, OccupancyStructure2Graph, classify_disorder
    from matgl_supercon.pretrained import available_models, load_model

__version__ = "0.1.0"

__all__ = [
    "DISORDER_TYPES",
    "OccupancyStructure2Graph",
    "__version__",
    "available_models",
    "classify_disorder",
    "load_model",
]
# ``matgl_supercon.load_model("SODNet-SuperCon3D")`` as ``matgl.load_model`` is for MatGL's own models.
__getattr__, __dir__ = lazy_exports(
    globals(),
    dict.fromkeys(["DISORDER_TYPES", "OccupancyStructure2Graph", "classify_disorder"], "graph")
    | dict.fromkeys(["available_models", "load_model"], "pretrained"),
)
