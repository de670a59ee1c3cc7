"""An ensemble of Tc models whose spread is the reported uncertainty."""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from matgl_supercon._fingerprint import add_model
from matgl_supercon.graph import virtual_crystal
from matgl_supercon.models._tc_model import CompositionStatisticsTcModel, OccupancyTcModel, occupancy_shares

if TYPE_CHECKING:
    from pymatgen.core import Composition, Structure


#: Formulas converted and predicted at a time by :meth:`TcEnsemble.predict_formulas`.
FORMULA_CHUNK = 4096


@dataclass(frozen=True)
class ForestSpreadGate:
    """Member weights that change with how much the ensemble's forests' trees disagree on a structure.

    The gate reads, per structure, the square root of the mean variance over their trees of the members that have
    one (:class:`~matgl_supercon.models.CompositionForestTc`), in ln K, and picks the band of ``edges`` it falls in
    (band ``i`` holds ``edges[i - 1] <= value < edges[i]``). On held-out SuperCon3D structures the forests err most
    where their trees disagree, and there the SODNet and CompositionTc members deserve more weight
    (``benchmarks/make_pretrained.py``, the shipped model card).

    Attributes:
        edges: Ascending band edges (ln K).
        member_weights: One row per band (``len(edges) + 1``), one non-negative weight per member (relative; a row
            needs a positive sum).
    """

    edges: tuple[float, ...]
    member_weights: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class LowTcGate:
    """Where a group of members reads cold, their mean takes a share of the prediction.

    The group (``members``) weighs nothing elsewhere. Where its mean ln Tc is below ``threshold``, each structure's
    weights become ``(1 - weight)`` × the other members' (from ``member_weights`` or the :class:`ForestSpreadGate`)
    and ``weight`` shared equally by the group. The shipped group is forests that also grew on the formula table's
    non-superconductors at a floor Tc: alone they score worse than the ensemble, but where they read cold they tell
    the sub-kelvin superconductors that the other members predict too warm (``benchmarks/results/low_tc_gate.md``).

    Attributes:
        members: One flag per member: whether it belongs to the group.
        threshold: ln(Tc / K) below which the group's mean takes its share.
        weight: The group's share there, in (0, 1].
    """

    members: tuple[bool, ...]
    threshold: float
    weight: float


class TcEnsemble:
    """Weighted mean and spread of ln Tc over several Tc models (e.g. the cross-validation fold models).

    Members may be :class:`~matgl_supercon.models.SODNet`, :class:`~matgl_supercon.models.CompositionTc` or
    :class:`~matgl_supercon.models.CompositionForestTc` models (anything that predicts ln Tc from the same occupancy
    graphs). A SODNet with a one-column state vector (``state_dim=1``) named in ``state_from_forests`` reads, as its
    state, the mean ln Tc of the ensemble's forest members outside the ``low_tc_gate``'s group: it was trained to
    correct a forest's prediction with what the crystal shows (``benchmarks/sodnet_forest_state.py``), so the forests
    predict first. Members that share most of
    their training data agree more than their errors warrant, so the raw spread is too narrow; ``sd_scale``
    (measured on held-out predictions, see ``calibration.json`` of a shipped model) multiplies it so that mean ± sd
    covers about 68% of held-out errors. With ``sd_scale_edges`` it is one factor per band of the predicted ln Tc,
    so that the coverage holds in each band a user reads (one factor leaves the coldest predictions' intervals too
    narrow and the hottest' too wide on SuperCon3D).
    """

    def __init__(
        self,
        models: Sequence[OccupancyTcModel],
        name: str = "ensemble",
        sd_scale: float | Sequence[float] = 1.0,
        weights: Sequence[dict[str, torch.Tensor]] | None = None,
        member_weights: Sequence[float] | None = None,
        training_elements: Sequence[str] | None = None,
        gate: ForestSpreadGate | None = None,
        sd_scale_edges: Sequence[float] = (),
        low_tc_gate: LowTcGate | None = None,
        state_from_forests: Sequence[bool] | None = None,
    ) -> None:
        """Build the ensemble.

        Args:
            models: One model per member. With ``weights``, several members may pass the same module object.
            name: Shown in reports.
            sd_scale: Multiplies the members' spread (see the class docstring): one factor, or one per band of
                ``sd_scale_edges``.
            weights: Each member's state dict, loaded into its model before the member predicts. Building an
                e3nn module costs about a second (code generation), loading weights microseconds, so members of
                one architecture (e.g. the folds of one configuration) can share one module this way.
            member_weights: Each member's (relative, non-negative) weight in the mean and spread; equal when None.
                A shipped ensemble of two model kinds weights each kind by what held-out predictions favour; a
                member of weight 0 counts only where a ``gate`` weighs it.
            training_elements: The elements the members' training data held, if known: a prediction for a crystal
                with another element is an extrapolation, which :meth:`unseen_elements` reports.
            gate: Member weights per band of the forests' tree spread, used instead of ``member_weights`` (see
                :class:`ForestSpreadGate`); needs a member with a variance of its own (a forest).
            sd_scale_edges: Ascending edges (ln K) of the bands of the predicted mean ln Tc that have their own
                ``sd_scale`` (a band holds its lower edge); none for one factor.
            low_tc_gate: A group of members that takes a share of the prediction where it reads cold (see
                :class:`LowTcGate`); the ``gate`` reads the tree spread of the other forests only.
            state_from_forests: One flag per member: whether it reads, as its state vector, the forests' mean ln Tc
                (see the class docstring). Members with a state vector need it: an ensemble has no other state to
                give them (a state of another meaning, such as pressure, would be read wrongly).
        """
        if not models:
            raise ValueError("an ensemble needs at least one model")
        scales = [float(sd_scale)] if isinstance(sd_scale, int | float) else [float(v) for v in sd_scale]
        scale_edges = [float(e) for e in sd_scale_edges]
        if (
            len(scales) != len(scale_edges) + 1
            or not all(math.isfinite(v) and v > 0 for v in scales)
            or not all(math.isfinite(e) for e in scale_edges)
            or any(b <= a for a, b in itertools.pairwise(scale_edges))
        ):
            raise ValueError(
                f"sd_scale must be positive and finite, one per band of ascending finite sd_scale_edges "
                f"({len(scale_edges) + 1} bands); got sd_scale {sd_scale} and edges {list(sd_scale_edges)}"
            )
        self.member_weights = None
        if member_weights is not None:
            w = torch.as_tensor([float(v) for v in member_weights], dtype=torch.float64)
            if w.shape != (len(models),) or not bool(torch.isfinite(w).all() & (w >= 0).all() & (w.sum() > 0)):
                raise ValueError(
                    f"member_weights: need {len(models)} finite values >= 0 with a positive sum, got "
                    f"{list(member_weights)}"
                )
            self.member_weights = w / w.sum()
        # Members with a variance of their own about their prediction (forests: over their trees).
        self._own_variance = torch.as_tensor([hasattr(m, "predict_graphs_and_variance") for m in models])
        self.low_tc_gate = low_tc_gate
        self._low = torch.zeros(len(models), dtype=torch.bool)
        if low_tc_gate is not None:
            self._low = torch.as_tensor([bool(v) for v in low_tc_gate.members], dtype=torch.bool)
            if (
                self._low.shape != (len(models),)
                or bool(self._low.all())
                or not bool(self._low.any())
                or not math.isfinite(low_tc_gate.threshold)
                or not 0.0 < low_tc_gate.weight <= 1.0
            ):
                raise ValueError(
                    f"low_tc_gate: need one flag per member ({len(models)}), some members in the group and some out, "
                    f"a finite threshold and a weight in (0, 1]; got {low_tc_gate}"
                )
        self.gate = gate
        if gate is not None:
            rows = torch.as_tensor([[float(v) for v in row] for row in gate.member_weights], dtype=torch.float64)
            edges = torch.as_tensor([float(e) for e in gate.edges], dtype=torch.float64)
            if (
                rows.shape != (len(edges) + 1, len(models))
                or not bool(torch.isfinite(rows).all() & (rows >= 0).all() & (rows.sum(1) > 0).all())
                or not bool(torch.isfinite(edges).all() & (edges.diff() > 0).all())
            ):
                raise ValueError(
                    f"gate: need ascending finite edges and, per band (edges + 1), {len(models)} non-negative "
                    f"weights with a positive sum; got edges {list(gate.edges)} and {len(rows)} rows"
                )
            if not bool(self._forests.any()):
                raise ValueError("gate: no member has a variance of its own (a CompositionForestTc) to read")
            self._gate_edges, self._gate_weights = edges, rows / rows.sum(1, keepdim=True)
        if low_tc_gate is not None:
            # Outside its cold structures the group weighs nothing: the other members must carry the weight there.
            rows = self._gate_weights if gate is not None else self.member_weights
            if rows is not None and not bool((rows.reshape(-1, len(models))[:, ~self._low].sum(1) > 0).all()):
                raise ValueError("low_tc_gate: the members outside the group need a positive weight (every gate band)")
        # Members that read the forests' mean ln Tc as their state vector (see the class docstring).
        flags = [False] * len(models) if state_from_forests is None else [bool(v) for v in state_from_forests]
        if len(flags) != len(models):
            raise ValueError(f"state_from_forests: need one flag per member ({len(models)}), got {len(flags)}")
        for i, (model, reads) in enumerate(zip(models, flags, strict=True)):
            width = getattr(model, "state_dim", 0)
            if width != (1 if reads else 0):
                raise ValueError(
                    f"member {i} reads a state vector of width {width}, and the ensemble gives it "
                    + (
                        "the forests' mean ln Tc (width 1)"
                        if reads
                        else "none (flag it in state_from_forests if its state is a forest's ln Tc)"
                    )
                )
        self._reads_forests = torch.as_tensor(flags, dtype=torch.bool)
        if bool(self._reads_forests.any()) and not bool(self._forests.any()):
            raise ValueError(
                "members with a state vector read the forests' mean ln Tc: the ensemble needs a "
                "CompositionForestTc member outside the low_tc_gate's group"
            )
        if weights is not None:
            if len(weights) != len(models):
                raise ValueError(f"{len(weights)} sets of weights for {len(models)} models")
            for model, state in zip(models, weights, strict=True):
                model.load_state_dict(state)  # strict: weights that do not fit their model fail here, not later
        self._members = [(m.eval(), None if weights is None else weights[i]) for i, m in enumerate(models)]
        self.name = name
        # Fixed by the members; read for every formula (formula_graph), so worked out once.
        self._reads_structure = any(not isinstance(m, CompositionStatisticsTcModel) for m in models)
        # One factor stays a float (its fingerprint, and what code that reads ``sd_scale`` expects).
        self.sd_scale: float | tuple[float, ...] = scales[0] if len(scales) == 1 else tuple(scales)
        self.sd_scale_edges = tuple(scale_edges)
        self.training_elements = None if training_elements is None else frozenset(training_elements)
        settings = {(m.element_types, m.cutoff, m.max_neighbors) for m, _ in self._members}
        if len(settings) != 1:
            raise ValueError(
                f"ensemble members disagree on graph settings (elements, cutoff, K): {len(settings)} kinds"
            )

    @property
    def _forests(self) -> torch.Tensor:
        """``[n_members]`` which members are forests outside the low-Tc group (the gate and the state read them)."""
        return self._own_variance & ~self._low

    def __len__(self) -> int:
        return len(self._members)

    def unseen_elements(self, structure: Structure) -> list[str]:
        """The elements of ``structure`` that no training structure held, sorted (none when that is not known)."""
        if self.training_elements is None:
            return []
        return sorted({el.symbol for el in structure.composition.elements} - self.training_elements)

    def members(self) -> Iterator[OccupancyTcModel]:
        """Each member's model in turn (a shared module holds a member's weights only until the next is yielded).

        A shared module takes the member's own tensors (``assign=True``) rather than copies of them, so what a
        module caches from its weights at inference (a retrieval memory's keys) stays valid for that member across
        calls instead of being recomputed every time the member's turn comes.
        """
        for module, weights in self._members:
            if weights is not None:
                module.load_state_dict(weights, assign=True)
            yield module

    def fingerprint(self) -> str:
        """SHA-256 of what sets the predictions: each member's constructor arguments and weights, and ``sd_scale``.

        Two ensembles with one fingerprint predict alike; a resumed job (``screen_folder``) uses it to refuse to mix
        the predictions of two models in one results file.
        """
        digest = hashlib.sha256(f"sd_scale={self.sd_scale!r}".encode())
        if self.sd_scale_edges:
            digest.update(f"sd_scale_edges={self.sd_scale_edges!r}".encode())
        if self.member_weights is not None:  # so an ensemble without member weights keeps its old fingerprint
            digest.update(f"member_weights={self.member_weights.tolist()!r}".encode())
        if self.gate is not None:
            digest.update(f"gate={self.gate!r}".encode())
        if self.low_tc_gate is not None:
            digest.update(f"low_tc_gate={self.low_tc_gate!r}".encode())
        if bool(self._reads_forests.any()):
            digest.update(f"state_from_forests={self._reads_forests.tolist()!r}".encode())
        if bool(self._own_variance.any()):
            # Since 2026-12-06 the spread holds the forests' tree variance: results written before differ.
            digest.update(b"spread=mixture")
        for module, weights in self._members:
            add_model(digest, module._init_args, module.state_dict() if weights is None else weights)
        return digest.hexdigest()

    def make_converter(self, allow_overlaps: bool = False):
        """The graph converter of the first member (all members share the graph settings).

        ``allow_overlaps``: as in :meth:`SODNet.make_converter`.
        """
        return self._members[0][0].make_converter(allow_overlaps=allow_overlaps)

    def graphs(self, structures: Sequence[Structure], allow_overlaps: bool = False) -> list:
        """``(graph, lattice)`` of each structure, converted once for all members (they share graph settings).

        ``allow_overlaps``: as in :meth:`SODNet.make_converter`.
        """
        return self._members[0][0].graphs(structures, allow_overlaps)

    def graphs_or_errors(
        self, structures: Sequence[Structure], allow_overlaps: bool = False
    ) -> tuple[list[int], list, dict[int, str]]:
        """Convert what can be converted: ``(indices, graphs, {index: error})`` (no exception for bad input).

        ``allow_overlaps``: as in :meth:`SODNet.make_converter`.
        """
        converter = self.make_converter(allow_overlaps)
        indices, graphs, errors = [], [], {}
        for i, structure in enumerate(structures):
            try:
                graphs.append(converter.get_graph(structure)[:2])
                indices.append(i)
            except ValueError as exc:  # e.g. an element outside the model's list, an atom with no neighbour
                errors[i] = f"ValueError: {exc}"
        return indices, graphs, errors

    @torch.no_grad()
    def predict_graphs(self, graphs: Sequence, batch_size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, sd × sd_scale)`` of ln(Tc / K) over members for converted graphs.

        With ``sd_scale_edges`` the factor is that of the band the mean falls in (:meth:`spread_scale`).

        The variance is that of a mixture of the members: the spread between their predictions (the unbiased
        weighted variance, for reliability weights; the plain sample variance with equal weights; 0 for one member)
        plus the (weighted) mean of each member's own variance about its prediction, which a
        :class:`~matgl_supercon.models.CompositionForestTc` gives as the variance over its trees and a network as 0.
        On held-out SuperCon3D structures the forests' tree variance ranks the errors far better than the members'
        disagreement alone (the shipped model card). An ensemble of one network has no spread (sd 0). The weights
        are equal, ``member_weights``, or the ``gate``'s for each structure (:meth:`structure_weights`).

        Raises:
            ValueError: For a ``batch_size`` below 1.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        predicted = {i: (ln_tc, own) for i, _, ln_tc, own in self._run_members(graphs, batch_size)}
        stacked = torch.stack([predicted[i][0] for i in range(len(self))])
        own = torch.stack([predicted[i][1] for i in range(len(self))]).to(stacked.dtype)
        w = self.structure_weights(own, stacked).to(stacked.dtype)
        mean = (w * stacked).sum(0)
        # The unbiased weighted variance for reliability weights (the sample variance for equal weights); none for
        # a single weighted member.
        spread = 1 - (w**2).sum(0)
        between = torch.where(spread > 1e-9, (w * (stacked - mean) ** 2).sum(0) / spread.clamp_min(1e-9), 0.0)
        return mean, (between + (w * own).sum(0)).sqrt() * self.spread_scale(mean)

    def _run_members(
        self, graphs: Sequence, batch_size: int
    ) -> Iterator[tuple[int, OccupancyTcModel, torch.Tensor, torch.Tensor]]:
        """``(index, model, ln Tc, own variance)`` of each member on ``graphs``, each member run once.

        The members that read the forests come last, with the forests' mean ln Tc as their state. A member is
        yielded while its module holds its weights (``members`` loads them into modules members may share), so a
        caller can read what its forward pass left (``feature_dict``).
        """
        readers = self._reads_forests.tolist()
        forests: list[torch.Tensor] = []
        for i, model in enumerate(self.members()):
            if not readers[i]:
                ln_tc, own = member_prediction(model, graphs, batch_size)
                if bool(self._forests[i]):
                    forests.append(ln_tc)
                yield i, model, ln_tc, own
        if any(readers):  # after the forests, whose mean ln Tc is their state
            state = forest_state(forests)
            for i, model in enumerate(self.members()):
                if readers[i]:
                    yield i, model, *member_prediction(model, graphs, batch_size, state)

    def spread_scale(self, mean: torch.Tensor) -> torch.Tensor:
        """The ``sd_scale`` of each predicted mean ln Tc (its band's, with ``sd_scale_edges``), like ``mean``."""
        scales = torch.as_tensor(self.sd_scale, dtype=mean.dtype).reshape(-1)
        edges = torch.as_tensor(self.sd_scale_edges, dtype=mean.dtype)
        return scales[torch.bucketize(mean, edges, right=True)]

    def structure_weights(self, own_variance: torch.Tensor, predictions: torch.Tensor | None = None) -> torch.Tensor:
        """``[n_members, n]`` each member's weight per structure (summing to 1 over members).

        ``own_variance`` (``[n_members, n]``, each member's own variance) feeds the gate; without one the weights
        are ``member_weights``, or equal. ``predictions`` (``[n_members, n]``, each member's ln Tc) feed the
        ``low_tc_gate``, which needs them.
        """
        n_members, n = own_variance.shape
        if self.gate is None:
            if self.member_weights is None:
                base = torch.full((n_members, n), 1.0 / n_members, dtype=torch.float64)
            else:
                base = self.member_weights[:, None].expand(-1, n)
        else:
            tree_sd = own_variance[self._forests].double().mean(0).sqrt()
            band = torch.bucketize(tree_sd, self._gate_edges, right=True)
            base = self._gate_weights[band].T
        if self.low_tc_gate is None:
            return base
        if predictions is None:
            raise ValueError("structure_weights: the low_tc_gate reads the members' predictions; give them")
        outside = base.masked_fill(self._low[:, None], 0.0)
        outside = outside / outside.sum(0, keepdim=True)
        group = self._low.double()[:, None].expand(-1, n) / int(self._low.sum())
        cold = predictions[self._low].double().mean(0) < self.low_tc_gate.threshold
        share = self.low_tc_gate.weight
        return torch.where(cold, (1.0 - share) * outside + share * group, outside)

    def predict_ln_tc(
        self, structures: Sequence[Structure], batch_size: int = 16, allow_overlaps: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, sd)`` of ln(Tc / K) over members, each ``[len(structures)]``.

        ``allow_overlaps``: as in :meth:`SODNet.make_converter`.
        """
        return self.predict_graphs(self.graphs(structures, allow_overlaps), batch_size)

    @property
    def reads_structure(self) -> bool:
        """Whether a member reads more of a crystal than its composition (a SODNet).

        Only an ensemble without such a member can predict a bare formula (:meth:`predict_formulas`).
        """
        return self._reads_structure

    def predict_formulas(
        self, formulas: Sequence[Composition | str], batch_size: int = 16
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, sd)`` of ln(Tc / K) of formulas, for an ensemble whose members read compositions only.

        Each formula becomes a one-site :func:`~matgl_supercon.graph.virtual_crystal`, as the formula-table rows the
        shipped forests grew on did. Its atom fractions are the formula's; its site statistics are a virtual
        crystal's (one site mixing every element, no vacancy: a formula does not say which sites are part empty), so
        a formula's ln Tc can differ a little from that of a crystal of the same composition (the shipped
        composition members: MgB2 37.8 K from the formula, 38.5 K from its CIF).

        Args:
            formulas: Formulas (``"YBa2Cu3O6.9"``) or pymatgen compositions.
            batch_size: Formulas per forward pass.

        Raises:
            ValueError: For an ensemble with a member that reads the structure (load the shipped one with
                ``members="composition"``), or naming the formula (1-based position and text) that cannot be parsed
                or holds an element outside the members' element list.
        """
        self.require_composition_members()  # before any formula, so that the refusal names none
        formulas = list(formulas)
        means, sds = [torch.zeros(0)], [torch.zeros(0)]
        # A chunk at a time, so that a long list (a composition-space screen) never holds all its graphs at once.
        for start in range(0, len(formulas), FORMULA_CHUNK):
            graphs = []
            for position, formula in enumerate(formulas[start : start + FORMULA_CHUNK], start + 1):
                try:
                    graphs.append(self.formula_graph(formula))
                except ValueError as error:
                    raise ValueError(f"formula {position} ({str(formula)!r}): {error}") from None
            mean, sd = self.predict_graphs(graphs, batch_size)
            means.append(mean)
            sds.append(sd)
        return torch.cat(means), torch.cat(sds)

    def require_composition_members(self) -> None:
        """Refuse, saying why, to read formulas with an ensemble that has a member reading the structure.

        Raises:
            ValueError: When :attr:`reads_structure`.
        """
        if self.reads_structure:
            raise ValueError(
                f"ensemble {self.name!r} has members that read the crystal structure, which a formula lacks; use its "
                "composition-only members (load_model(..., members='composition')) or predict a structure"
            )

    def formula_graph(self, formula: Composition | str) -> tuple:
        """``(graph, lattice)`` of a formula's one-site :func:`~matgl_supercon.graph.virtual_crystal`.

        Raises:
            ValueError: For an ensemble with a member that reads the structure (:meth:`require_composition_members`),
                a formula pymatgen cannot parse (its ``KeyError`` too), one without atoms, or one with an element
                outside the members' element list.
        """
        self.require_composition_members()
        if getattr(self, "_formula_converter", None) is None:
            # A virtual crystal's one site has no neighbour within any cutoff.
            self._formula_converter = self._members[0][0].make_converter(allow_isolated=True)
        try:
            crystal = virtual_crystal(formula)
        except KeyError as error:  # pymatgen's, for some symbols it cannot read
            raise ValueError(f"cannot parse {str(formula)!r} ({error})") from None
        return self._formula_converter.get_graph(crystal)[:2]

    @torch.no_grad()
    def site_contributions(
        self, structure: Structure, allow_overlaps: bool = False, structure_only: bool = False
    ) -> torch.Tensor:
        """Each site's share of the predicted ln Tc, averaged over members like the mean (sums to the mean ln Tc).

        Members that read only the composition (:class:`~matgl_supercon.models.CompositionForestTc`,
        :class:`~matgl_supercon.models.CompositionTc`) share their prediction out by occupancy, so in an ensemble
        they weigh most in (the shipped one), the shares differ little beyond the sites' occupancies.

        Args:
            structure: The crystal.
            allow_overlaps: As in :meth:`SODNet.make_converter`.
            structure_only: Average over the members that read the structure (SODNet) instead, equally weighted:
                the shares then sum to those members' mean ln Tc, not the ensemble's.

        Raises:
            ValueError: With ``structure_only``, for an ensemble without a member that reads the structure.
        """
        graphs = self.graphs([structure], allow_overlaps)  # once for all members: they share graph settings
        graph = graphs[0][0]
        by_occupancy = occupancy_shares(graph.occupancy, torch.zeros(graph.num_nodes, dtype=torch.long), 1)
        ln_tc, own, shares = {}, {}, {}  # member index -> [1] prediction, [1] own variance, [n_sites] shares
        for i, model, prediction, variance in self._run_members(graphs, 1):
            ln_tc[i], own[i] = prediction, variance
            # A composition member's shares are its prediction split by occupancy (what its forward pass gives).
            composition_only = isinstance(model, CompositionStatisticsTcModel)
            shares[i] = ln_tc[i] * by_occupancy if composition_only else model.feature_dict["site_contributions"]
        order = range(len(self))
        if structure_only:
            composition = [isinstance(model, CompositionStatisticsTcModel) for model, _ in self._members]
            structural = [shares[i] for i in order if not composition[i]]
            if not structural:
                raise ValueError(f"ensemble {self.name!r}: no member reads the structure (all read compositions only)")
            return torch.stack(structural).mean(0)
        predictions = torch.stack([ln_tc[i] for i in order])
        w = self.structure_weights(torch.stack([own[i] for i in order]), predictions)[:, 0]
        return (w.to(shares[0].dtype)[:, None] * torch.stack([shares[i] for i in order])).sum(0)

    def predict_structure(self, structure: Structure) -> torch.Tensor:
        """Tc in K (geometric mean over members)."""
        return self.predict_ln_tc([structure])[0].exp()[0]


def member_prediction(
    model: OccupancyTcModel, graphs: Sequence, batch_size: int, state: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A member's ln(Tc / K) of converted graphs and its own variance about it.

    The variance is over its trees for a model with ``predict_graphs_and_variance``
    (:class:`~matgl_supercon.models.CompositionForestTc`), else 0. ``state`` (``[len(graphs), 1]``, from
    :func:`forest_state`) goes to a member that reads a state vector.
    """
    with_variance = getattr(model, "predict_graphs_and_variance", None)
    if with_variance is not None:
        return with_variance(graphs, batch_size)
    mean = model.predict_graphs(graphs, batch_size, **({} if state is None else {"state_attr": state}))
    return mean, torch.zeros_like(mean)


def forest_state(forest_predictions: Sequence[torch.Tensor]) -> torch.Tensor:
    """``[n, 1]`` the state vector of the members that read the forests: the forests' mean ln Tc (equal weights)."""
    return torch.stack(list(forest_predictions)).mean(0)[:, None]
