"""Weights shipped inside the package, loaded offline by name."""

from __future__ import annotations

from matgl_supercon.pretrained.io import COMPOSITION_MEMBERS, available_models, load_model, pretrained_dir

__all__ = ["COMPOSITION_MEMBERS", "available_models", "load_model", "pretrained_dir"]
