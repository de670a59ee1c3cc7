"""Weights shipped inside the package, loaded offline by name."""

from __future__ import annotations

from matgl_supercon.pretrained.io import available_models, load_model, pretrained_dir

__all__ = ["available_models", "load_model", "pretrained_dir"]
