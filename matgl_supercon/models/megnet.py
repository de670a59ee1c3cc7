"""MatGL's MEGNet as a Tc regressor on occupancy-aware graphs: the GNN baseline of the benchmarks.

MEGNet sees a site only through ``node_type``, which our converter sets to the site's majority species, so
occupancies, vacancies and alternative positions are invisible to it: every atom of a disordered site
counts as its majority species, at every listed position. That is how a structure-only MatGL model reads
a disordered CIF, and the gap to SODNet measures what occupancy awareness buys.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch
from matgl.models import MEGNet

from matgl_supercon.graph import ALL_ELEMENTS, OccupancyStructure2Graph
from matgl_supercon.models._target import StandardisedTarget
from matgl_supercon.models.sodnet import attach_positions

#: The arguments MatGL's MEGNet names (it also takes ``**kwargs``, which it ignores).
MEGNET_ARGUMENTS = frozenset(
    name
    for name, parameter in inspect.signature(MEGNet.__init__).parameters.items()
    if name != "self" and parameter.kind is not inspect.Parameter.VAR_KEYWORD
)


class MEGNetTc(StandardisedTarget, MEGNet):
    """MEGNet (Chen et al., Chem. Mater. 2019) predicting a standardised Tc target from our graphs."""

    __version__ = 1

    def __init__(
        self,
        element_types: Sequence[str] = ALL_ELEMENTS,
        cutoff: float = 6.0,
        max_neighbors: int | None = 16,
        target_mean: float = 0.0,
        target_std: float = 1.0,
        **kwargs,
    ) -> None:
        """Build the model.

        Args:
            element_types: Element list of the graphs (``node_type`` indexes into it).
            cutoff: Neighbour radius (Å) of the graphs and of MEGNet's Gaussian bond expansion; 6 Å (as SODNet)
                so that every SuperCon3D site has a neighbour (elemental Cs: 5.2 Å).
            max_neighbors: Nearest neighbours kept per site (ties kept), as SODNet's graphs; ``None`` keeps all
                within the cutoff (about 4x the edges and the training time on SuperCon3D).
            target_mean: Mean of the training target (set by the trainer).
            target_std: Standard deviation of the training target.
            **kwargs: Further :class:`matgl.models.MEGNet` arguments.

        Raises:
            TypeError: For an argument that is neither this class's nor MEGNet's (MEGNet itself takes any keyword,
                so a misspelt one would otherwise leave its default in place without a word).
        """
        unknown = sorted(set(kwargs) - MEGNET_ARGUMENTS)
        if unknown:
            raise TypeError(f"MEGNetTc got unexpected keyword arguments {unknown}: neither its own nor MEGNet's")
        super().__init__(element_types=tuple(element_types), cutoff=cutoff, **kwargs)
        self.max_neighbors = max_neighbors
        self.save_args(locals(), kwargs)
        self.init_target_scaling(target_mean, target_std)

    def make_converter(self, allow_overlaps: bool = False) -> OccupancyStructure2Graph:
        """The neighbours MEGNet reads: the ``max_neighbors`` nearest within the cutoff.

        Args:
            allow_overlaps: As in :meth:`SODNet.make_converter`.
        """
        return OccupancyStructure2Graph(
            tuple(self.element_types),
            cutoff=self.cutoff,
            max_neighbors=self.max_neighbors,
            allow_overlaps=allow_overlaps,
        )

    def forward(self, g, state_attr: torch.Tensor | None = None, lat: torch.Tensor | None = None, **kwargs):
        """Target of every graph in a batch; ``lat`` sets positions, a missing state is MatGL's default zeros."""
        if lat is not None:
            attach_positions(g, lat)
        n_graphs = int(g.batch.max()) + 1 if getattr(g, "batch", None) is not None else 1
        if state_attr is None or state_attr.dim() == 1:
            state_attr = torch.zeros(n_graphs, 2, device=g.pos.device)
        return super().forward(g, state_attr).reshape(-1) * self.target_std + self.target_mean
