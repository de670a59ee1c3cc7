from __future__ import annotations

import pytest
import torch

from matgl_supercon.models import SODNet

TINY = {
    "cutoff": 5.0,
    "max_neighbors": 8,
    "irreps_node": "8x0e+2x1o+2x2e",
    "irreps_ffn": "8x0e+2x1o+2x2e",
    "n_blocks": 1,
    "n_heads": 2,
    "n_radial": 8,
    "radial_hidden": 8,
    "attention_hidden": 4,
    "readout_hidden": 8,
    "attention_dropout": 0.0,
}


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """Two tiny untrained SODNets saved as an ensemble folder (the workflows' plumbing, not their accuracy)."""
    root = tmp_path_factory.mktemp("tiny_ensemble")
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = SODNet(**TINY)
        model.set_target_scaling(1.5, 1.2)
        model.save(root / f"member_{seed}")
    return root


@pytest.fixture(scope="session")
def tiny_generator_dir(tmp_path_factory):
    """A tiny untrained ab initio DiffCSP-SC, saved (sampling plumbing, not crystal quality)."""
    from matgl_supercon.generate import DiffCSPSC

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny_generator")
    DiffCSPSC(
        ("O", "Mg", "B"),
        mode="ab_initio",
        dim=8,
        n_layers=1,
        n_heads=2,
        n_freq=2,
        timesteps=5,
        conditional=True,
        n_atoms_counts=[0, 0, 1, 1],
    ).save(root)
    return root
