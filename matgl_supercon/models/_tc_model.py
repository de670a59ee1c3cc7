"""What the Tc models on occupancy graphs share: their converter, composition statistics and shared-memory loading."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import torch
from torch_geometric.data import Batch
from torch_geometric.utils import scatter

from matgl_supercon.graph import OccupancyStructure2Graph, describe_structure
from matgl_supercon.models._shared_memory import SHARED_MEMORY_JSON, read_state
from matgl_supercon.models._target import StandardisedTarget

if TYPE_CHECKING:
    from pymatgen.core import Structure
    from torch_geometric.data import Data

#: Atom fraction from which an element counts fully in the min/max composition statistics.
PRESENCE_FRACTION = 0.02


def composition_statistics_width(n_descriptors: int) -> int:
    """Columns of :func:`composition_statistics` for a table of ``n_descriptors`` elemental descriptors."""
    return 4 * n_descriptors + 2


def composition_statistics(
    occupancy: torch.Tensor, vacancy: torch.Tensor, descriptors: torch.Tensor, batch: torch.Tensor, n_graphs: int
) -> torch.Tensor:
    """Magpie-style composition statistics of each graph from its site occupancies.

    Args:
        occupancy: ``[n_sites, n_elements]`` site occupancies.
        vacancy: ``[n_sites]`` vacancy fractions.
        descriptors: ``[n_elements, n_desc]`` elemental descriptor table.
        batch: ``[n_sites]`` graph index of each site.
        n_graphs: Number of graphs.

    Returns:
        ``[n_graphs, 4 * n_desc + 2]``: composition-weighted mean and standard deviation of the descriptors,
        their (faded-in) min and max over the elements present, the mean site mixing and the mean vacancy
        fraction.
        Supercells give the same values, since only fractions enter. Computed in float64 and returned in
        ``occupancy``'s dtype: in float32 the spread of a descriptor that every element present shares
        (``E[x^2] - E[x]^2``) cancels to rounding noise of about 1e-4 after the square root, which moved with the
        batch a structure was in, and trees split on it.
    """
    dtype = occupancy.dtype
    occupancy, vacancy, descriptors = occupancy.double(), vacancy.double(), descriptors.double()
    amount = scatter(occupancy, batch, dim=0, dim_size=n_graphs, reduce="sum")
    fraction = amount / amount.sum(-1, keepdim=True).clamp_min(1e-12)
    mean = fraction @ descriptors
    std = (fraction @ descriptors**2 - mean**2).clamp_min(0.0).add(1e-8).sqrt()
    # Min and max over the elements present, with each element faded in: its descriptor moves from the
    # composition mean (inside the range of the others) to its own value as its atom fraction grows to
    # PRESENCE_FRACTION. Magpie's hard min/max would jump when a trace dopant appears; this stays continuous,
    # so {A: x, B: 1 - x} tends to pure A as x -> 1.
    weight = (fraction / PRESENCE_FRACTION).clamp(max=1.0)[:, :, None]
    table = mean[:, None, :] + weight * (descriptors[None] - mean[:, None, :])
    present = (fraction > 0)[:, :, None]
    low = torch.where(present, table, torch.full_like(table, torch.inf)).amin(1)
    high = torch.where(present, table, torch.full_like(table, -torch.inf)).amax(1)
    total = occupancy.sum(-1).clamp_min(1e-6)
    mixing = 1.0 - (occupancy**2).sum(-1) / total**2
    site_means = scatter(torch.stack([mixing, vacancy], -1), batch, dim=0, dim_size=n_graphs, reduce="mean")
    return torch.cat([mean, std, low, high, site_means], dim=-1).to(dtype)


class OccupancyTcModel(StandardisedTarget):
    """Mixin for a ``MatGLModel`` that predicts ln Tc from :class:`OccupancyStructure2Graph` graphs.

    The model sets ``element_types``, ``cutoff``, ``max_neighbors`` (its converter) and :meth:`descriptor_table`.
    """

    element_types: tuple[str, ...]
    cutoff: float
    max_neighbors: int | None
    #: Constructor arguments whose default changed, with the value a model saved before the argument existed had.
    DEFAULTS_BEFORE: ClassVar[dict[str, object]] = {}

    @classmethod
    def load(cls, path: str | Path | dict, **kwargs):
        """Load a saved model (``matgl.load_model`` calls this), also one whose memory rows are shared.

        A member of a shipped ensemble may keep the retrieval-memory rows it has in common with other members in
        a file beside it (:func:`matgl_supercon.models.share_retrieval_memory`); its folder names that file, and
        the rows are put back here. A file saved before an argument of :attr:`DEFAULTS_BEFORE` existed is built
        with that argument's earlier value. Any other folder, name or Hugging Face id goes through MatGL's loader.
        """
        folder = Path(path["state.pt"]).parent if isinstance(path, dict) else Path(path)
        init_path = Path(path["model.pt"]) if isinstance(path, dict) else folder / "model.pt"
        init_args = torch.load(init_path, map_location="cpu", weights_only=True) if init_path.exists() else None
        # A file saved before an argument existed holds no value for it; it gets the value it was built with.
        older = {k: v for k, v in cls.DEFAULTS_BEFORE.items() if init_args is not None and k not in init_args}
        if not (folder / SHARED_MEMORY_JSON).exists() and not older:
            return super().load(path, **kwargs)
        model = cls(**older, **{k: v for k, v in init_args.items() if not k.startswith("@")})
        model.load_state_dict(read_state(folder))  # strict: a memory that does not fit its model fails here
        return model

    def descriptor_table(self) -> torch.Tensor:
        """``[n_elements, n_desc]`` elemental descriptors whose composition statistics the model reads."""
        raise NotImplementedError

    def graph_composition_statistics(self, graphs: Sequence[Data]) -> torch.Tensor:
        """``[len(graphs), n_statistics]``: each graph's :func:`composition_statistics` (this model's descriptors)."""
        if not graphs:
            raise ValueError("no graphs to take composition statistics of")
        # The statistics read only the sites, so the graphs' site tensors are stacked as a batch would stack them,
        # without PyG's collation of the edges (a third of the shipped forests' prediction time until 2026-12-07).
        sites = torch.tensor([g.num_nodes for g in graphs])
        batch = torch.repeat_interleave(torch.arange(len(graphs)), sites)
        occupancy = torch.cat([g.occupancy for g in graphs])
        vacancy = torch.cat([g.vacancy for g in graphs])
        return composition_statistics(occupancy, vacancy, self.descriptor_table(), batch, len(graphs))

    def structure_composition_statistics(
        self, structures: Sequence[Structure], allow_overlaps: bool = False
    ) -> torch.Tensor:
        """``[len(structures), n_statistics]``: the composition statistics of each structure's graph.

        Sites without neighbours are accepted (a formula's one-site virtual crystal): the statistics read the
        occupancies, not the edges. ``allow_overlaps``: as in :meth:`make_converter`.
        """
        converter = self.make_converter(allow_isolated=True, allow_overlaps=allow_overlaps)
        graphs = []
        for i, structure in enumerate(structures):
            try:
                graphs.append(converter.get_graph(structure)[0])
            except ValueError as error:
                raise ValueError(f"{describe_structure(structure, i)}: {error}") from error
        return self.graph_composition_statistics(graphs)

    def make_converter(self, allow_isolated: bool = False, allow_overlaps: bool = False) -> OccupancyStructure2Graph:
        """The graph converter whose graphs this model expects.

        Args:
            allow_isolated: Accept sites without neighbours, as a formula's
                :func:`~matgl_supercon.graph.virtual_crystal` has; real crystals keep the check.
            allow_overlaps: Accept atoms closer than 0.5 Å whose occupancies sum above 1, as five SuperCon3D CIFs
                have (see :func:`~matgl_supercon.data.load_supercon3d`); other crystals keep the check.
        """
        return OccupancyStructure2Graph(
            self.element_types,
            cutoff=self.cutoff,
            max_neighbors=self.max_neighbors,
            allow_isolated=allow_isolated,
            allow_overlaps=allow_overlaps,
        )

    def graphs(self, structures: Sequence[Structure], allow_overlaps: bool = False) -> list[tuple[Data, torch.Tensor]]:
        """``(graph, lattice)`` of each structure, converted with :meth:`make_converter`.

        Args:
            structures: Crystals.
            allow_overlaps: As in :meth:`make_converter`.
        """
        converter = self.make_converter(allow_overlaps=allow_overlaps)
        return [converter.get_graph(s)[:2] for s in structures]


class CompositionStatisticsTcModel(OccupancyTcModel):
    """Mixin for a Tc model that reads only the :func:`composition_statistics` of its graphs.

    The model holds a ``descriptors`` buffer and implements :meth:`predict_statistics`; the rest (graphs in,
    ln Tc out, each site's share of it) is here.
    """

    descriptors: torch.Tensor

    def descriptor_table(self) -> torch.Tensor:
        """The elemental descriptors whose composition statistics the model reads."""
        return self.descriptors

    def predict_statistics(self, statistics: torch.Tensor) -> torch.Tensor:
        """ln(Tc / K) ``[n]`` of ``[n, n_statistics]`` composition statistics (:meth:`graph_composition_statistics`)."""
        raise NotImplementedError

    def forward(self, g: Data, state_attr: torch.Tensor | None = None, lat: torch.Tensor | None = None, **kwargs):
        """Predict ln(Tc / K) for every graph of a (batched) MatGL graph; ``state_attr`` and ``lat`` are unused.

        ``self.feature_dict["site_contributions"]`` holds each site's occupancy share of the prediction.
        """
        batch = getattr(g, "batch", None)
        if batch is None:
            batch = torch.zeros(g.num_nodes, dtype=torch.long, device=g.occupancy.device)
        n_graphs = int(batch.max()) + 1 if batch.numel() else 0
        ln_tc = self.predict_statistics(
            composition_statistics(g.occupancy, g.vacancy, self.descriptors, batch, n_graphs)
        )
        self.feature_dict = {"site_contributions": ln_tc[batch] * occupancy_shares(g.occupancy, batch, n_graphs)}
        return ln_tc

    @torch.no_grad()
    def predict_graphs(
        self, graphs: Sequence[tuple[Data, torch.Tensor]], batch_size: int = 16, **kwargs
    ) -> torch.Tensor:
        """ln(Tc / K) of already converted ``(graph, lattice)`` pairs, in batches (eval mode, no gradients)."""
        was_training = self.training
        self.eval()
        try:
            out = [
                self(Batch.from_data_list([g for g, _ in graphs[start : start + batch_size]]))
                for start in range(0, len(graphs), batch_size)
            ]
        finally:
            self.train(was_training)
        return torch.cat(out) if out else torch.zeros(0)

    def predict_ln_tc(
        self, structures: Sequence[Structure], batch_size: int = 16, allow_overlaps: bool = False
    ) -> torch.Tensor:
        """ln(Tc / K) of many structures (``allow_overlaps``: as in :meth:`make_converter`)."""
        return self.predict_graphs(self.graphs(structures, allow_overlaps), batch_size)

    def predict_structure(self, structure: Structure, *args, **kwargs) -> torch.Tensor:
        """Tc in K of one (ordered or disordered) structure."""
        return self.predict_ln_tc([structure]).exp()[0]


def occupancy_shares(occupancy: torch.Tensor, batch: torch.Tensor, n_graphs: int) -> torch.Tensor:
    """``[n_sites]`` each site's share of its graph's total occupancy (alternative positions of one atom count once)."""
    total = occupancy.sum(-1)
    return total / scatter(total, batch, dim=0, dim_size=n_graphs, reduce="sum")[batch]
