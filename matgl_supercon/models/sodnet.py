"""SODNet: an SE(3)-equivariant graph-attention transformer that predicts Tc of ordered and disordered crystals.

After Chen et al., NeurIPS 2024 (SODNet, an Equiformer variant; Liao & Smidt, ICLR 2023), written from
scratch on e3nn and MatGL's PyG graphs. The model outputs ln(Tc / K).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from e3nn import o3
from matgl.models import MatGLModel
from torch import nn
from torch_geometric.data import Batch
from torch_geometric.utils import scatter

from matgl_supercon.graph import ALL_ELEMENTS, check_neighbour_settings
from matgl_supercon.models._attention import TransformerBlock
from matgl_supercon.models._embedding import OccupancyEmbedding, PeriodicEmbedding, RadialBasis
from matgl_supercon.models._retrieval import LabelRetrieval, system_keys
from matgl_supercon.models._tc_model import (
    OccupancyTcModel,
    composition_statistics,
    composition_statistics_width,
    occupancy_shares,
)

if TYPE_CHECKING:
    from pymatgen.core import Structure
    from torch_geometric.data import Data


def attach_positions(g: Data, lat: torch.Tensor) -> None:
    """Set ``g.pos`` and ``g.pbc_offshift`` from fractional coordinates and lattices, as MatGL's trainer does."""
    if lat.dim() == 2:
        lat = lat.unsqueeze(0)
    batch = getattr(g, "batch", None)
    if batch is None:
        batch = torch.zeros(g.num_nodes, dtype=torch.long, device=g.frac_coords.device)
    g.pos = torch.einsum("ni,nij->nj", g.frac_coords, lat[batch])
    g.pbc_offshift = torch.einsum("ei,eij->ej", g.pbc_offset, lat[batch[g.edge_index[0]]])


def chemical_system_keys(occupancy: torch.Tensor, batch: torch.Tensor, n_graphs: int) -> torch.Tensor:
    """``[n_graphs, words]`` keys of each graph's set of elements (partly occupied sites included)."""
    amount = scatter(occupancy, batch, dim=0, dim_size=n_graphs, reduce="sum")
    return system_keys(amount > 0)


def scalar_mlp(n_in: int, hidden: int, dropout: float = 0.0) -> nn.Sequential:
    """Two SiLU hidden layers of width ``hidden`` down to one value, with dropout after each hidden layer.

    Dropout layers are only inserted when ``dropout > 0``, so models saved without them keep their state-dict keys.
    """

    def drop() -> list[nn.Module]:
        return [nn.Dropout(dropout)] if dropout > 0 else []

    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.SiLU(), *drop(), nn.Linear(hidden, hidden), nn.SiLU(), *drop(), nn.Linear(hidden, 1)
    )


class SODNet(OccupancyTcModel, MatGLModel):
    """Equivariant graph-attention Tc regressor on occupancy-aware graphs.

    Node input: occupancy-weighted element embeddings (a learned projection of elemental descriptors, plus a
    free per-element vector with ``learned_element_embedding``) with a vacancy term and a learned mixed-site
    correction. Edge input: Gaussian radial basis x cosine cutoff x occupancy weight, and spherical harmonics up
    to ``lmax``. Body: ``n_blocks`` pre-norm transformer blocks (equivariant attention, gated feed-forward).
    Readout: per-site scalars -> MLP -> a per-site ln Tc contribution; the structure's ln Tc is their
    occupancy-weighted mean, so alternative positions of one atom count once and supercells give the same answer.
    With ``composition_head``, an ln Tc predicted from the composition alone is added to every site's value.
    """

    __version__ = 1

    def __init__(
        self,
        element_types: Sequence[str] = ALL_ELEMENTS,
        cutoff: float = 6.0,
        max_neighbors: int | None = 16,
        irreps_node: str = "32x0e+8x1o+4x2e",
        irreps_ffn: str = "64x0e+16x1o+8x2e",
        lmax: int = 2,
        n_blocks: int = 2,
        n_heads: int = 4,
        n_radial: int = 32,
        radial_hidden: int = 32,
        attention_hidden: int = 16,
        readout_hidden: int = 64,
        attention_dropout: float = 0.1,
        readout_dropout: float = 0.0,
        learned_element_embedding: bool = False,
        valence_descriptors: bool = False,
        solid_descriptors: bool = False,
        ground_state_descriptors: bool = False,
        global_context: bool = True,
        composition_context: bool = True,
        composition_head: bool = False,
        composition_encoding: Literal["linear", "periodic"] = "linear",
        state_dim: int = 0,
        retrieval_neighbors: int = 0,
        retrieval_memory_size: int = 0,
        retrieval_query_encoding: bool = True,
        state_mean: Sequence[float] | None = None,
        state_std: Sequence[float] | None = None,
        target_mean: float = 0.0,
        target_std: float = 1.0,
    ) -> None:
        """Build the model.

        Args:
            element_types: Element list of the graphs (occupancy columns).
            cutoff: Neighbour radius (Å) of the model's graphs and of the radial cutoff.
            max_neighbors: Neighbours kept per site (ties kept); ``None`` keeps all within the cutoff.
            irreps_node: Node feature irreps, e.g. ``"32x0e+8x1o+4x2e"``; multiplicities divisible by ``n_heads``.
            irreps_ffn: Hidden irreps of the gated feed-forward.
            lmax: Largest degree of the edge spherical harmonics (0 gives an invariant model).
            n_blocks: Number of transformer blocks.
            n_heads: Attention heads.
            n_radial: Gaussians in the radial basis.
            radial_hidden: Width of the MLP that maps the radial basis to tensor-product weights.
            attention_hidden: Per-head width of the attention MLP.
            readout_hidden: Width of the readout MLP.
            attention_dropout: Dropout on attention weights during training.
            readout_dropout: Dropout on the hidden layers of the readout MLP during training.
            learned_element_embedding: Add a free per-element embedding to the projected elemental descriptors.
                Off by default: trained with the default EMA of the weights, the descriptors alone measured
                0.661 ln K on SuperCon3D all/all against 0.684 for the free table without EMA (the defaults until
                2026-11-27; 10 folds, better on 9), 0.755 against 0.796 on its ordered test structures and 0.771
                against 0.784 trained on ordered structures only (``benchmarks/results/supercon3d_sodnet``): most
                elements have few training structures to teach a free vector. With more data it pays: on 3DSC_MP's
                random folds (4,600 training structures each) it measured 3.78 K over 5 folds against 3.92 without
                it, better on 4 (folds 0 / 1 / 3: 3.86 / 4.21 / 3.83 against 4.11 / 4.35 / 4.15; the weight average
                on in both; a second seed moved a fold by 0.08 K at most;
                ``benchmarks/results/ablations/sodnet_3dsc_mp_random.md``).
            valence_descriptors: Add valence-electron counts per subshell and unfilled states (Magpie's
                NsValence ... NUnfilled) to the elemental descriptors, in the embedding and composition context.
            solid_descriptors: Add the properties of each element's solid (resistivity, elemental Tc, metallic
                radius, bulk modulus: :data:`~matgl_supercon.models._embedding.SOLID_PROPERTIES`) to the elemental
                descriptors; measured for the composition forest, not yet for SODNet.
            ground_state_descriptors: Add Magpie's DFT ground-state columns of each element (volume, band gap,
                magnetic moment, space group; :data:`~matgl_supercon.models._embedding.GROUND_STATE_COLUMNS`) to the
                elemental descriptors; as ``solid_descriptors``, measured for the composition forest only.
            global_context: Feed each site's readout the structure's occupancy-weighted mean and its max of the
                site scalars as well, so a site's contribution can depend on what else is in the crystal.
            composition_context: Also feed each site's readout an embedding of the structure's composition
                statistics (occupancy-weighted mean, spread, min and max of the elemental descriptors, as
                Magpie features do), a strong signal on small Tc datasets that message passing learns slowly.
            composition_head: Add to every site's value an ln Tc predicted from the composition statistics alone,
                and predict a graph without edges (a formula's :func:`~matgl_supercon.graph.virtual_crystal`) from
                that head only. Formula-only training data then trains the composition head without asking the
                structure part to read a one-site crystal as if it were a real site. Trained beside the SuperCon
                formula table it measured worse on SuperCon3D than the default trained the same way
                (``benchmarks/results/sodnet_variants/README.md``), so it is off by default.
            composition_encoding: How the composition statistics enter the context and head: ``"linear"`` feeds
                them to a plain MLP; ``"periodic"`` first embeds each statistic on its own
                (:class:`~matgl_supercon.models._embedding.PeriodicEmbedding`, standardised with the training
                set's statistics, which the trainer sets through :meth:`set_composition_scaling`). Periodic
                embeddings bring an MLP on the statistics alone close to a random forest, but inside SODNet they let
                the network memorise the training compositions and test worse (``sodnet_variants`` README), so
                ``"linear"`` is the default.
            state_dim: Width of a per-structure state vector (MatGL's ``state_attr``) given beside the graph, such
                as a pretrained model's features of the crystal (``benchmarks.chgnet_features``) or a measurement
                condition; standardised, embedded and fed to every site's readout. 0 (default): no state.
            retrieval_neighbors: Feed each site's readout a context read from the ln Tc of the ``retrieval_neighbors``
                training structures nearest in (learned, periodic-embedded) composition statistics
                (:class:`~matgl_supercon.models._retrieval.LabelRetrieval`, after TabR). 0 (default): off. The
                trainer stores the training set as the memory (:meth:`set_retrieval_memory`); it is saved with the
                model. On SuperCon3D all/all (10 folds) 32 neighbours scored 0.684 ln K alone against the default's
                0.661, but its errors differ from the default's (correlation 0.78) and the two averaged score 0.632:
                a member of the shipped ensemble (``benchmarks/results/sodnet_variants/README.md``).
            retrieval_memory_size: Rows of the retrieval memory (set by the trainer).
            retrieval_query_encoding: Add the structure's own (periodic) encoding of its composition statistics
                to the retrieved context, as TabR does; False feeds the readout only what the neighbours say
                (the composition context already encodes the structure's own composition).
            state_mean: Per-column mean of the training states (set by the trainer; zeros when None).
            state_std: Per-column standard deviation of the training states (set by the trainer; ones when None).
            target_mean: Mean of the training ln Tc (set by the trainer; the network predicts standardised values).
            target_std: Standard deviation of the training ln Tc.
        """
        super().__init__()
        self.save_args(locals())
        counts = {"lmax": (lmax, 0), "n_blocks": (n_blocks, 1), "n_heads": (n_heads, 1), "n_radial": (n_radial, 1)}
        for name, (value, minimum) in counts.items():
            if value < minimum:
                raise ValueError(f"{name} must be at least {minimum}, got {value}")
        check_neighbour_settings(cutoff, max_neighbors)
        for name, rate in (("attention_dropout", attention_dropout), ("readout_dropout", readout_dropout)):
            if not 0 <= rate < 1:
                raise ValueError(f"{name} must be in [0, 1), got {rate}")
        self.element_types = tuple(element_types)
        self.cutoff = float(cutoff)
        self.max_neighbors = max_neighbors
        self.irreps_node = o3.Irreps(irreps_node)
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax)
        n_scalars = sum(mul for mul, ir in self.irreps_node if ir.l == 0)
        self.n_scalars = n_scalars
        self.embedding = OccupancyEmbedding(
            self.element_types,
            n_scalars,
            learned_element_embedding,
            valence_descriptors,
            solid_descriptors,
            ground_state_descriptors,
        )
        self.radial_basis = RadialBasis(n_radial, self.cutoff)
        self.spherical_harmonics = o3.SphericalHarmonics(self.irreps_sh, normalize=True, normalization="component")
        self.blocks = nn.ModuleList(
            TransformerBlock(
                str(self.irreps_node),
                str(self.irreps_sh),
                irreps_ffn,
                n_radial,
                n_heads,
                radial_hidden,
                attention_hidden,
                attention_dropout,
            )
            for _ in range(n_blocks)
        )
        self.global_context = global_context
        self.composition_context = composition_context
        n_stats = composition_statistics_width(self.embedding.descriptors.shape[1])
        if composition_encoding not in ("linear", "periodic"):
            raise ValueError(f"composition_encoding must be 'linear' or 'periodic', got {composition_encoding!r}")
        self.composition_encoder = None
        if composition_encoding == "periodic" and (composition_context or composition_head):
            self.composition_encoder = PeriodicEmbedding(n_stats)
            n_stats = self.composition_encoder.out_dim
        if composition_context:
            self.composition = nn.Sequential(
                nn.Linear(n_stats, readout_hidden), nn.SiLU(), nn.Linear(readout_hidden, n_scalars)
            )
        self.composition_head = composition_head
        if composition_head:
            self.composition_ln_tc = scalar_mlp(n_stats, readout_hidden)
        self.state_dim = int(state_dim)
        if self.state_dim:
            self.register_buffer("state_mean", torch.zeros(self.state_dim))
            self.register_buffer("state_std", torch.ones(self.state_dim))
            self.set_state_scaling(
                state_mean if state_mean is not None else [0.0] * self.state_dim,
                state_std if state_std is not None else [1.0] * self.state_dim,
            )
            self.state_embedding = nn.Sequential(
                nn.Linear(self.state_dim, readout_hidden), nn.SiLU(), nn.Linear(readout_hidden, n_scalars)
            )
        self.retrieval = None
        if retrieval_neighbors:
            self.retrieval = LabelRetrieval(
                composition_statistics_width(self.embedding.descriptors.shape[1]),
                readout_hidden,
                retrieval_neighbors,
                retrieval_memory_size,
                retrieval_query_encoding,
            )
            self.retrieval_embedding = nn.Sequential(nn.SiLU(), nn.Linear(readout_hidden, n_scalars))
        n_context = (
            (3 if global_context else 1)
            + (1 if composition_context else 0)
            + (1 if self.state_dim else 0)
            + (1 if self.retrieval is not None else 0)
        )
        n_readout = n_scalars * n_context
        self.readout = scalar_mlp(n_readout, readout_hidden, readout_dropout)
        self.init_target_scaling(target_mean, target_std)

    def set_state_scaling(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Set the standardisation of the state vector (done by the trainer from the training split)."""
        mean = torch.as_tensor(mean, dtype=self.state_mean.dtype)
        std = torch.as_tensor(std, dtype=self.state_std.dtype)
        if mean.shape != (self.state_dim,) or std.shape != (self.state_dim,):
            raise ValueError(f"state scaling needs {self.state_dim} means and stds, got {tuple(mean.shape)}")
        if not bool(torch.isfinite(mean).all() & (std > 0).all()):
            raise ValueError("state scaling: means must be finite and standard deviations positive")
        self.state_mean.copy_(mean)
        self.state_std.copy_(std)
        self._init_args["state_mean"] = mean.tolist()
        self._init_args["state_std"] = std.tolist()

    def set_retrieval_memory(
        self,
        graphs: Sequence[Data],
        ln_tc: Sequence[float],
        rescale: bool = True,
        cross_system_only: Sequence[bool] | None = None,
    ) -> None:
        """Store these (training) graphs' composition statistics and ln Tc as the retrieval memory.

        The memory may hold more than the training set: any labelled structures the model should read but not
        train on, such as formula-only records as one-site virtual crystals (``make_converter(allow_isolated=True)``).
        Set the target scaling first: the memory holds labels standardised with it. ``rescale=False`` keeps the
        standardisation of the statistics (fine-tuning a trained model on new structures). ``cross_system_only``
        flags the graphs that a training structure of the same chemical system (set of elements) does not read:
        those read-only rows, when test structures' systems were kept out of them.
        """
        if self.retrieval is None:
            raise ValueError("set_retrieval_memory needs retrieval_neighbors > 0")
        ln_tc = torch.as_tensor(np.asarray(ln_tc, dtype=np.float32))
        if ln_tc.shape != (len(graphs),):
            raise ValueError(f"{len(graphs)} graphs need as many ln Tc values, got shape {tuple(ln_tc.shape)}")
        labels = (ln_tc - self.target_mean.cpu()) / self.target_std.cpu()
        systems = flags = None
        if cross_system_only is not None:
            flags = torch.as_tensor(np.asarray(cross_system_only, dtype=bool))
            batch = Batch.from_data_list(list(graphs))
            systems = chemical_system_keys(batch.occupancy, batch.batch, batch.num_graphs)
        self.retrieval.set_memory(self.graph_composition_statistics(graphs), labels, rescale, systems, flags)
        self._init_args["retrieval_memory_size"] = len(graphs)

    def set_composition_scaling(self, graphs: Sequence[Data]) -> None:
        """Standardise the periodic composition encoding with these (training) graphs' statistics."""
        if self.composition_encoder is None:
            raise ValueError("set_composition_scaling needs composition_encoding='periodic'")
        stats = self.graph_composition_statistics(graphs)
        self.composition_encoder.set_scaling(stats.mean(0), stats.std(0).clamp_min(1e-6))

    def descriptor_table(self) -> torch.Tensor:
        """The elemental descriptors of the node embedding (``valence_descriptors`` and ``solid_descriptors`` too)."""
        return self.embedding.descriptors

    def node_features(self, g: Data) -> torch.Tensor:
        """Equivariant node features ``[n, irreps_node.dim]`` after the transformer blocks."""
        if getattr(g, "pos", None) is None or getattr(g, "pbc_offshift", None) is None:
            raise ValueError("graph has no pos/pbc_offshift: pass lat= to forward (MatGL's Lightning module does)")
        edge_index = g.edge_index.long()  # MatGL stores int32 indices; scatter needs int64
        center, neighbor = edge_index
        vec = g.pos[neighbor] + g.pbc_offshift - g.pos[center]
        dist = vec.norm(dim=-1)
        edge_sh = self.spherical_harmonics(vec)
        edge_weight = getattr(g, "edge_weight", None)
        if edge_weight is None:
            edge_weight = torch.ones_like(dist)
        edge_radial = self.radial_basis(dist) * edge_weight[:, None]
        scalars = self.embedding(g.occupancy, g.vacancy)
        x = torch.cat([scalars, scalars.new_zeros(scalars.shape[0], self.irreps_node.dim - self.n_scalars)], dim=-1)
        for block in self.blocks:
            x = block(x, edge_index, edge_sh, edge_radial, edge_weight)
        return x

    def forward(self, g: Data, state_attr: torch.Tensor | None = None, lat: torch.Tensor | None = None, **kwargs):
        """Predict ln(Tc / K) for every graph of a (batched) MatGL graph.

        Args:
            g: Graph(s) from :class:`OccupancyStructure2Graph`, with ``pos``/``pbc_offshift`` or ``lat`` given.
            state_attr: ``[n_graphs, state_dim]`` state vectors when the model has a ``state_dim``; else unused.
            lat: ``[n_graphs, 3, 3]`` lattices; when given, positions are computed here.
            **kwargs: Ignored.

        Returns:
            ``[n_graphs]`` ln Tc. ``self.feature_dict["site_contributions"]`` holds each site's weighted
            share of it (they sum to ln Tc per graph).
        """
        if lat is not None:
            attach_positions(g, lat)
        x = self.node_features(g)
        batch = getattr(g, "batch", None)
        if batch is None:
            batch = torch.zeros(g.num_nodes, dtype=torch.long, device=x.device)
        n_graphs = int(batch.max()) + 1 if batch.numel() else 0
        share = occupancy_shares(g.occupancy, batch, n_graphs)
        scalars = x[:, : self.n_scalars]
        if self.global_context:
            mean = scatter(scalars * share[:, None], batch, dim=0, dim_size=n_graphs, reduce="sum")
            peak = scatter(scalars, batch, dim=0, dim_size=n_graphs, reduce="max")
            scalars = torch.cat([scalars, mean[batch], peak[batch]], dim=-1)
        if self.composition_context or self.composition_head or self.retrieval is not None:
            raw_stats = composition_statistics(g.occupancy, g.vacancy, self.embedding.descriptors, batch, n_graphs)
            stats = raw_stats if self.composition_encoder is None else self.composition_encoder(raw_stats)
        if self.composition_context:
            scalars = torch.cat([scalars, self.composition(stats)[batch]], dim=-1)
        if self.state_dim:
            state = self.checked_state(state_attr, n_graphs)
            scalars = torch.cat([scalars, self.state_embedding((state - self.state_mean) / self.state_std)[batch]], -1)
        if self.retrieval is not None:
            # Only a memory with rows hidden from their own system needs the queries' system keys.
            hides = self.training and self.retrieval.hides_same_system
            systems = chemical_system_keys(g.occupancy, batch, n_graphs) if hides else None
            context = self.retrieval(raw_stats, systems)
            scalars = torch.cat([scalars, self.retrieval_embedding(context)[batch]], dim=-1)
        site_value = self.readout(scalars).squeeze(-1)
        if self.composition_head:
            # A graph without edges has no structure to read, only a composition: the head alone predicts it.
            center = g.edge_index[0].long()
            n_edges = scatter(torch.ones_like(center, dtype=x.dtype), batch[center], dim=0, dim_size=n_graphs)
            has_structure = (n_edges > 0).to(x.dtype)
            site_value = site_value * has_structure[batch] + self.composition_ln_tc(stats).squeeze(-1)[batch]
        site_value = site_value * self.target_std + self.target_mean
        self.feature_dict = {"node_features": x, "site_contributions": site_value * share}
        return scatter(site_value * share, batch, dim=0, dim_size=n_graphs, reduce="sum")

    def checked_state(self, state_attr: torch.Tensor | None, n_graphs: int) -> torch.Tensor:
        """``state_attr`` as a ``[n_graphs, state_dim]`` float tensor, or a ``ValueError`` saying what is wrong."""
        if state_attr is None:
            raise ValueError(f"this SODNet reads a state vector of width {self.state_dim}: pass state_attr")
        state = torch.as_tensor(state_attr, dtype=self.state_mean.dtype, device=self.state_mean.device)
        if state.shape != (n_graphs, self.state_dim):
            raise ValueError(f"state_attr has shape {tuple(state.shape)}, expected ({n_graphs}, {self.state_dim})")
        bad = torch.nonzero(~torch.isfinite(state).all(dim=1)).flatten()
        if bad.numel():
            raise ValueError(f"state_attr row {int(bad[0])} has non-finite values")
        return state

    @torch.no_grad()
    def predict_graphs(
        self,
        graphs: Sequence[tuple[Data, torch.Tensor]],
        batch_size: int = 16,
        state_attr: np.ndarray | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """ln(Tc / K) of already converted ``(graph, lattice)`` pairs, in batches (eval mode, no gradients).

        Args:
            graphs: ``(graph, lattice)`` pairs from :meth:`graphs`.
            batch_size: Graphs per forward pass.
            state_attr: ``[len(graphs), state_dim]`` state vectors, needed when the model has a ``state_dim``.
        """
        was_training = self.training
        self.eval()
        out = []
        if state_attr is not None:
            state_attr = torch.as_tensor(np.asarray(state_attr), dtype=torch.float32)
        try:
            for start in range(0, len(graphs), batch_size):
                chunk = graphs[start : start + batch_size]
                batch = Batch.from_data_list([g for g, _ in chunk])
                state = None if state_attr is None else state_attr[start : start + batch_size]
                out.append(self(batch, state_attr=state, lat=torch.cat([lat for _, lat in chunk])))
        finally:
            self.train(was_training)
        return torch.cat(out) if out else torch.zeros(0)

    def predict_ln_tc(
        self,
        structures: Sequence[Structure],
        batch_size: int = 16,
        state_attr: np.ndarray | torch.Tensor | None = None,
        allow_overlaps: bool = False,
    ) -> torch.Tensor:
        """ln(Tc / K) of many structures.

        ``state_attr``: one state row each, for a model with ``state_dim``; ``allow_overlaps``: as in
        :meth:`make_converter`.
        """
        return self.predict_graphs(self.graphs(structures, allow_overlaps), batch_size, state_attr)

    def predict_structure(
        self, structure: Structure, state_attr: np.ndarray | torch.Tensor | None = None, *args, **kwargs
    ) -> torch.Tensor:
        """Tc in K of one (ordered or disordered) structure (``state_attr``: its ``[state_dim]`` state)."""
        state = None if state_attr is None else torch.as_tensor(np.asarray(state_attr)).reshape(1, -1)
        return self.predict_ln_tc([structure], state_attr=state).exp()[0]
