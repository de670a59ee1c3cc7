"""Target standardisation shared by the Tc models: buffers saved with the weights and in the init arguments."""

from __future__ import annotations

import torch


class StandardisedTarget:
    """Mixin for a ``MatGLModel`` whose network predicts a standardised target.

    ``target_mean``/``target_std`` are buffers (they travel with ``state.pt``) and init arguments (they travel
    with ``model.json``), so ``matgl.load_model`` rebuilds the same scaling.
    """

    def init_target_scaling(self, mean: float, std: float) -> None:
        """Register the scaling buffers; call once in ``__init__`` after ``save_args``."""
        self.register_buffer("target_mean", torch.tensor(float(mean)))
        self.register_buffer("target_std", torch.tensor(float(std)))

    def set_target_scaling(self, mean: float, std: float) -> None:
        """Set the target standardisation (done by the trainer from the training split)."""
        self.target_mean.fill_(float(mean))
        self.target_std.fill_(float(std))
        self._init_args["target_mean"] = float(mean)
        self._init_args["target_std"] = float(std)
