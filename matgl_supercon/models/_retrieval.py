"""A context vector from the labels of the nearest training compositions (retrieval-augmented readout).

After TabR (Gorishniy et al., "TabR: Tabular Deep Learning Meets Nearest Neighbors", ICLR 2024): a query's
composition statistics are encoded, compared with the encoded statistics of every training structure (the
memory), and the labels of its ``n_neighbors`` nearest, softmax-weighted by distance and corrected by a learned
function of the key difference, are added to its encoding. During training each structure is excluded from its
own neighbours, so the context is a leave-one-out estimate and cannot hand the network its own label. Memory rows
that are read but never trained on (e.g. formula-table records) can also be hidden from training queries of their
own chemical system: a benchmark keeps the test structures' systems out of such a memory, and a training query
that found its own doping series there would learn to copy labels that no test query has.
"""

from __future__ import annotations

import torch
from torch import nn

from matgl_supercon.models._embedding import PeriodicEmbedding

#: Largest standardised difference of every statistic at which a memory entry counts as the query itself.
SAME_COMPOSITION = 1e-3
#: Memory-key encodings a retrieval module keeps (one per ensemble member that shares the module; see memory_keys).
MEMORY_CACHE_SIZE = 64
#: Rows encoded at once without gradients (:meth:`LabelRetrieval.encode_keys`). Encoding an 8,401-row memory in one
#: pass took about 2.8x as long as in blocks of 512-1024 rows (1 thread beside two training processes, 2026-12-05).
ENCODE_BLOCK = 1024
#: Elements packed into one int64 word of a chemical-system key (bits 0..61, so the sum stays positive).
_SYSTEM_BITS = 62


def system_keys(present: torch.Tensor) -> torch.Tensor:
    """``[n, n_elements]`` element presence to ``[n, ceil(n_elements / 62)]`` int64 keys, equal iff the sets are."""
    n, n_elements = present.shape
    words = -(-n_elements // _SYSTEM_BITS)
    bits = torch.zeros(n, words * _SYSTEM_BITS, dtype=torch.long, device=present.device)
    bits[:, :n_elements] = present.long()
    powers = 2 ** torch.arange(_SYSTEM_BITS, dtype=torch.long, device=present.device)
    return (bits.view(n, words, _SYSTEM_BITS) * powers).sum(-1)


def _changed_in_place(tensors: tuple[torch.Tensor, ...], tag: tuple) -> bool:
    """Whether any of ``tensors`` moved past the version its cache ``tag`` recorded."""
    return any(t._version != recorded[2] for t, recorded in zip(tensors, tag, strict=True))


class LabelRetrieval(nn.Module):
    """``[batch, n_features]`` composition statistics to ``[batch, width]`` retrieval contexts.

    The memory (``memory_statistics`` ``[M, n_features]`` and ``memory_labels`` ``[M]``, standardised labels) is a
    pair of buffers set by :meth:`set_memory`, so it is saved and loaded with the model's state dict.
    """

    def __init__(
        self, n_features: int, width: int, n_neighbors: int, memory_size: int = 0, include_query: bool = True
    ) -> None:
        """Build the module.

        Args:
            n_features: Width of the composition statistics.
            width: Width of the encoding, keys and context.
            n_neighbors: Memory entries each query reads (fewer when the memory is smaller).
            memory_size: Rows of the memory buffers (the training set's size; 0 before :meth:`set_memory`).
            include_query: Return the query's own encoding plus what its neighbours say (TabR's form); False
                returns the neighbours' part alone, for a model that sees the composition through another path.
        """
        super().__init__()
        self.include_query = include_query
        if n_neighbors < 1:
            raise ValueError(f"n_neighbors must be at least 1, got {n_neighbors}")
        self.n_neighbors = int(n_neighbors)
        self.periodic = PeriodicEmbedding(n_features)
        self.encode = nn.Linear(self.periodic.out_dim, width)
        self.key = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width))
        self.label = nn.Linear(1, width)
        self.difference = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width, bias=False))
        self.register_buffer("memory_statistics", torch.zeros(memory_size, n_features))
        self.register_buffer("memory_labels", torch.zeros(memory_size))
        # Training-only: not saved, so a loaded model (which only predicts, or gets a new memory) never has them.
        self.register_buffer("memory_systems", torch.zeros(0, 0, dtype=torch.long), persistent=False)
        self.register_buffer("memory_cross_system_only", torch.zeros(0, dtype=torch.bool), persistent=False)
        #: Whether any memory row is hidden from training queries of its system (set once, not per training step).
        self.hides_same_system = False
        # Tag of the tensors the keys depend on -> (those tensors, the keys); see memory_keys.
        self._memory_cache: dict[tuple, tuple[tuple[torch.Tensor, ...], torch.Tensor]] = {}

    def set_memory(
        self,
        statistics: torch.Tensor,
        labels: torch.Tensor,
        rescale: bool = True,
        systems: torch.Tensor | None = None,
        cross_system_only: torch.Tensor | None = None,
    ) -> None:
        """Store the training structures' statistics and standardised labels as the memory.

        Args:
            statistics: ``[M, n_features]`` composition statistics.
            labels: ``[M]`` standardised labels.
            rescale: Standardise inputs with these statistics from now on (the default); fine-tuning keeps the
                standardisation the network was trained with.
            systems: ``[M, words]`` chemical-system keys (:func:`system_keys`); needed with ``cross_system_only``.
            cross_system_only: ``[M]`` bool: rows that a training query of the same chemical system skips.
        """
        statistics = torch.as_tensor(statistics, dtype=torch.float32)
        labels = torch.as_tensor(labels, dtype=torch.float32)
        if statistics.dim() != 2 or statistics.shape[1] != self.memory_statistics.shape[1]:
            raise ValueError(
                f"memory statistics need shape [n, {self.memory_statistics.shape[1]}], got {tuple(statistics.shape)}"
            )
        if labels.shape != (statistics.shape[0],):
            raise ValueError(f"{statistics.shape[0]} memory rows need as many labels, got {tuple(labels.shape)}")
        if statistics.shape[0] < 2 or not bool(torch.isfinite(statistics).all() & torch.isfinite(labels).all()):
            raise ValueError("the retrieval memory needs at least 2 rows of finite statistics and labels")
        if cross_system_only is None:
            systems = torch.zeros(0, 0, dtype=torch.long)
            cross_system_only = torch.zeros(0, dtype=torch.bool)
        elif systems is None or systems.shape[0] != labels.shape[0] or cross_system_only.shape != labels.shape:
            raise ValueError(f"cross_system_only needs {labels.shape[0]} flags and as many chemical-system keys")
        device = self.memory_labels.device
        self.memory_statistics = statistics.to(device)
        self.memory_labels = labels.to(device)
        self.memory_systems = torch.as_tensor(systems, dtype=torch.long).to(device)
        self.memory_cross_system_only = torch.as_tensor(cross_system_only, dtype=torch.bool).to(device)
        self.hides_same_system = bool(self.memory_cross_system_only.any())
        self._memory_cache = {}
        if rescale:
            self.periodic.set_scaling(statistics.mean(0), statistics.std(0).clamp_min(1e-6))

    def encode_keys(self, statistics: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encodings and keys ``[n, width]`` of ``[n, n_features]`` statistics.

        Without gradients (inference, validation) rows go ``ENCODE_BLOCK`` at a time: every row is encoded on its
        own, so blocks change no value beyond float rounding (none on one thread), and they keep the periodic
        embedding's ``[rows, n_features, 2 * n_frequencies]`` intermediates small enough to stay in cache, which
        matters for a memory of thousands of rows. A training step keeps one pass: in blocks its weight gradients
        would be summed in another order, and a retrained model would no longer reproduce the committed ones.
        """
        if statistics.shape[0] > ENCODE_BLOCK and not torch.is_grad_enabled():
            parts = [self.encode_keys(block) for block in statistics.split(ENCODE_BLOCK)]
            return torch.cat([h for h, _ in parts]), torch.cat([key for _, key in parts])
        h = self.encode(self.periodic(statistics))
        return h, self.key(h)

    def _apply(self, *args, **kwargs) -> LabelRetrieval:
        self._memory_cache = {}  # .to(), .double(), ...: the old tensors' keys are of no further use
        return super()._apply(*args, **kwargs)

    def memory_keys(self) -> torch.Tensor:
        """Keys ``[M, width]`` of the memory; cached while nothing they depend on changes and no gradient is taken.

        Encoding a large memory (e.g. thousands of formula-table rows) costs more than a batch of queries, and at
        inference it is the same every call. Each cached encoding is tagged with the storage, shape and version
        counter of every tensor the keys depend on: an in-place change (an optimiser step, ``load_state_dict``)
        advances a version, and the entry holds those tensors, so their storage is not reused while it is cached.
        Up to ``MEMORY_CACHE_SIZE`` entries are kept: the members of a :class:`~matgl_supercon.models.TcEnsemble`
        that share one module (their weights swapped in with ``load_state_dict(assign=True)``) each keep their own.
        """
        if self.training or torch.is_grad_enabled():
            return self.encode_keys(self.memory_statistics)[1]
        tensors = (self.memory_statistics, *self.parameters(), *self.periodic.buffers())
        tag = tuple((t.data_ptr(), tuple(t.shape), t._version, t.device, t.dtype) for t in tensors)
        if tag not in self._memory_cache:
            # An entry whose tensors changed in place can never match again (e.g. the previous validation pass in
            # training): drop it, so that only live entries, one per ensemble member, stay.
            for old in [t for t, (held, _) in self._memory_cache.items() if _changed_in_place(held, t)]:
                del self._memory_cache[old]
            if len(self._memory_cache) >= MEMORY_CACHE_SIZE:
                del self._memory_cache[next(iter(self._memory_cache))]  # the oldest
            self._memory_cache[tag] = (tensors, self.encode_keys(self.memory_statistics)[1])
        return self._memory_cache[tag][1]

    def same_composition(self, statistics: torch.Tensor) -> torch.Tensor:
        """``[n, M]`` bool: memory entries with every standardised statistic within ``SAME_COMPOSITION`` of a query.

        Compared after standardisation with a tolerance: the spread statistics of a one-element composition are
        float noise (sqrt of a difference of near-equal squares), different in a batch of other graphs. Comparing
        every pair feature by feature would build an ``[n, M, n_features]`` tensor, most of a training step's cost
        on a memory of thousands of rows; a float64 distance first keeps the pairs that can match (every
        difference below the tolerance bounds the squared distance by ``n_features`` tolerances squared; the
        margin covers rounding), and only those are compared feature by feature, so the answer is the same.
        """
        scale = self.periodic.scale
        shift64, scale64 = self.periodic.shift.double(), scale.double()
        query = (statistics.detach().double() - shift64) / scale64
        memory = (self.memory_statistics.double() - shift64) / scale64
        squared = query.square().sum(-1)[:, None] + memory.square().sum(-1)[None]
        bound = 4 * statistics.shape[1] * SAME_COMPOSITION**2 + 1e-9 * squared
        rows, entries = (torch.cdist(query, memory).square() < bound).nonzero(as_tuple=True)
        gap = ((statistics[rows] - self.memory_statistics[entries]) / scale).abs().amax(-1)
        same = torch.zeros(len(statistics), len(self.memory_statistics), dtype=torch.bool, device=statistics.device)
        same[rows[gap < SAME_COMPOSITION], entries[gap < SAME_COMPOSITION]] = True
        return same

    def forward(self, statistics: torch.Tensor, systems: torch.Tensor | None = None) -> torch.Tensor:
        """Context of each query: the weighted values of its nearest memory entries (plus its own encoding).

        In training mode a memory entry of the query's composition (:meth:`same_composition`) is skipped:
        the query itself, or a training structure of the same composition, so the network learns to use
        neighbours, not to copy its own label. So is a ``cross_system_only`` entry of the query's chemical system
        (``systems``: the queries' :func:`system_keys`, needed in training when the memory has such entries).
        """
        n_memory = self.memory_labels.shape[0]
        if n_memory < 2:
            raise ValueError("the retrieval memory is empty: train the model (or call set_retrieval_memory) first")
        h, key = self.encode_keys(statistics)
        memory_key = self.memory_keys()
        distance = torch.cdist(key, memory_key).square()
        if self.training:
            distance = distance.masked_fill(self.same_composition(statistics), torch.inf)
            if self.hides_same_system:
                if systems is None:
                    raise ValueError("this memory hides rows from queries of their chemical system: pass systems")
                same = (systems[:, None, :] == self.memory_systems[None]).all(-1)
                distance = distance.masked_fill(same & self.memory_cross_system_only[None], torch.inf)
        k = min(self.n_neighbors, n_memory - 1)
        nearest, index = distance.topk(k, dim=1, largest=False)
        weight = torch.softmax(-nearest, dim=1)
        weight = torch.nan_to_num(weight)  # a query with every entry masked (all infinite) reads nothing
        value = self.label(self.memory_labels[index].unsqueeze(-1)) + self.difference(key[:, None] - memory_key[index])
        context = (weight.unsqueeze(-1) * value).sum(1)
        return h + context if self.include_query else context
