"""CompositionTc: ln Tc from a crystal's composition alone, read through the labels of its nearest compositions.

A structure-blind partner for SODNet. Its input is the Magpie-style composition statistics SODNet's readout
sees (:func:`~matgl_supercon.models._tc_model.composition_statistics` of the site occupancies, valence descriptors
included); a retrieval block (TabR: Gorishniy et al., ICLR 2024) adds what the nearest training compositions'
ln Tc say, and one residual feed-forward block maps that to ln Tc. On SuperCon3D all/all its errors correlate
with SODNet's at 0.85 and averaging the two predicts better than either
(``benchmarks/results/sodnet_vs_forest.md``), which is why a shipped ensemble holds both kinds of members.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from matgl.models import MatGLModel
from torch import nn

from matgl_supercon.graph import ALL_ELEMENTS
from matgl_supercon.models._embedding import element_descriptors
from matgl_supercon.models._retrieval import LabelRetrieval
from matgl_supercon.models._tc_model import CompositionStatisticsTcModel, composition_statistics_width

if TYPE_CHECKING:
    pass


class CompositionTc(CompositionStatisticsTcModel, MatGLModel):
    """Retrieval-augmented network on composition statistics (TabR's predictor), as a MatGL model.

    It reads the same graphs as SODNet (only their site occupancies and vacancies), so that both can share one
    converter inside a :class:`~matgl_supercon.models.TcEnsemble`; ``cutoff`` and ``max_neighbors`` only set
    that converter. Train it with :func:`matgl_supercon.training.fit_composition_tc`.
    """

    __version__ = 1

    def __init__(
        self,
        element_types: Sequence[str] = ALL_ELEMENTS,
        cutoff: float = 6.0,
        max_neighbors: int | None = 16,
        valence_descriptors: bool = True,
        solid_descriptors: bool = False,
        ground_state_descriptors: bool = False,
        width: int = 128,
        retrieval_neighbors: int = 32,
        retrieval_memory_size: int = 0,
        dropout: float = 0.1,
        target_mean: float = 0.0,
        target_std: float = 1.0,
    ) -> None:
        """Build the model.

        Args:
            element_types: Element list of the graphs (occupancy columns).
            cutoff: Neighbour radius (Å) of the converter's graphs (not read by the model).
            max_neighbors: Neighbours per site of the converter's graphs (not read by the model).
            valence_descriptors: Add valence-electron counts (Magpie's NsValence ... NUnfilled) to the elemental
                descriptors whose statistics the model reads.
            solid_descriptors: Add the properties of each element's solid (as ``CompositionForestTc``, whose
                default it is) to those descriptors.
            ground_state_descriptors: Add Magpie's DFT ground-state columns of each element (as
                ``CompositionForestTc``, whose default it is) to those descriptors.
            width: Width of the retrieval encoding and of the feed-forward block (twice as wide inside).
            retrieval_neighbors: Memory entries each structure reads.
            retrieval_memory_size: Rows of the retrieval memory (set by the trainer).
            dropout: Dropout inside the feed-forward block during training.
            target_mean: Mean of the training ln Tc (set by the trainer; the network predicts standardised values).
            target_std: Standard deviation of the training ln Tc.
        """
        super().__init__()
        self.save_args(locals())
        self.element_types = tuple(element_types)
        self.cutoff = float(cutoff)
        self.max_neighbors = max_neighbors
        self.register_buffer(
            "descriptors",
            element_descriptors(self.element_types, valence_descriptors, solid_descriptors, ground_state_descriptors),
        )
        n_statistics = composition_statistics_width(self.descriptors.shape[1])
        self.retrieval = LabelRetrieval(n_statistics, width, retrieval_neighbors, retrieval_memory_size)
        self.block = nn.Sequential(
            nn.LayerNorm(width),
            nn.Linear(width, 2 * width),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(2 * width, width),
        )
        self.head = nn.Sequential(nn.LayerNorm(width), nn.ReLU(), nn.Linear(width, 1))
        self.init_target_scaling(target_mean, target_std)

    def set_retrieval_memory(self, statistics: torch.Tensor, ln_tc: Sequence[float]) -> None:
        """Store composition statistics (:meth:`graph_composition_statistics`) and their ln Tc as the memory.

        Set the target scaling first: the memory holds labels standardised with it.
        """
        ln_tc = np.asarray(ln_tc, dtype=np.float64)
        if ln_tc.shape != (len(statistics),):
            raise ValueError(f"{len(statistics)} memory rows need as many ln Tc values, got shape {ln_tc.shape}")
        # The scaling as set (float64), not the float32 buffers: the labels then equal the trainer's targets.
        labels = (ln_tc - self._init_args["target_mean"]) / self._init_args["target_std"]
        self.retrieval.set_memory(torch.as_tensor(statistics, dtype=torch.float32), torch.as_tensor(labels))
        self._init_args["retrieval_memory_size"] = len(ln_tc)

    def standardised(self, statistics: torch.Tensor) -> torch.Tensor:
        """Standardised ln Tc ``[n]`` of ``[n, n_statistics]`` composition statistics (what training fits)."""
        h = self.retrieval(statistics)
        return self.head(h + self.block(h)).squeeze(-1)

    def predict_statistics(self, statistics: torch.Tensor) -> torch.Tensor:
        """ln(Tc / K) ``[n]`` of ``[n, n_statistics]`` composition statistics (:meth:`graph_composition_statistics`)."""
        return self.standardised(torch.as_tensor(statistics, dtype=torch.float32)) * self.target_std + self.target_mean
