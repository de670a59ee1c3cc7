"""Fingerprints of trained models, which resumed jobs check before they add to earlier outputs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import torch


def add_model(digest: hashlib._Hash, init_args: Mapping[str, Any], state: Mapping[str, torch.Tensor]) -> None:
    """Feed a model's constructor arguments and weights (names, dtypes, shapes and bytes) to ``digest``."""
    digest.update(json.dumps(init_args, sort_keys=True, default=repr).encode())
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())


def model_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 of a MatGL model's constructor arguments and weights: equal fingerprints, equal predictions."""
    digest = hashlib.sha256()
    add_model(digest, getattr(model, "_init_args", {}), model.state_dict())
    return digest.hexdigest()
