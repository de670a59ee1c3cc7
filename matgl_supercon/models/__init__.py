"""Tc models on occupancy-aware graphs."""

from __future__ import annotations

from matgl_supercon.models._shared_memory import read_state, share_retrieval_memory
from matgl_supercon.models.composition import CompositionTc
from matgl_supercon.models.ensemble import ForestSpreadGate, LowTcGate, TcEnsemble
from matgl_supercon.models.forest import CompositionForestTc
from matgl_supercon.models.megnet import MEGNetTc
from matgl_supercon.models.sodnet import SODNet, attach_positions

__all__ = [
    "CompositionForestTc",
    "CompositionTc",
    "ForestSpreadGate",
    "LowTcGate",
    "MEGNetTc",
    "SODNet",
    "TcEnsemble",
    "attach_positions",
    "read_state",
    "share_retrieval_memory",
]
