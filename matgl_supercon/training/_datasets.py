"""Graph datasets of structures with an ln Tc label, their loaders, and batch prediction."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from matgl.graph.data import MGLDataset, collate_fn_graph
from torch.utils.data import DataLoader

from matgl_supercon.graph import describe_structure
from matgl_supercon.models.megnet import MEGNetTc
from matgl_supercon.models.sodnet import SODNet

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from matgl_supercon.graph import OccupancyStructure2Graph

LABEL = "ln_tc"


class _NamingConverter:
    """Converts as ``converter`` does, and names the structure in a conversion error (MatGL's dataset does not)."""

    def __init__(
        self, converter: OccupancyStructure2Graph, structures: list[Structure], names: Sequence[str] | None
    ) -> None:
        self.converter = converter
        self.position = {id(s): i for i, s in enumerate(structures)}
        self.names = names

    def get_graph(self, structure: Structure):
        try:
            return self.converter.get_graph(structure)
        except ValueError as error:
            i = self.position[id(structure)]
            name = self.names[i] if self.names else describe_structure(structure, i)
            raise ValueError(f"{name}: {error}") from error


def graph_dataset(
    structures: Sequence[Structure],
    ln_tc: Sequence[float],
    converter: OccupancyStructure2Graph,
    state_attr: np.ndarray | None = None,
    names: Sequence[str] | None = None,
) -> MGLDataset:
    """Convert structures once into a MatGL dataset with the ``ln_tc`` label (no disk cache).

    Args:
        structures: Crystals, ordered or disordered.
        ln_tc: ln(Tc / K) of each.
        converter: Graph converter (``SODNet.make_converter()``).
        state_attr: ``[n, d]`` state vectors for a model with ``state_dim=d`` (e.g. ``chgnet_features``); they
            replace the converter's placeholder state and reach the model as MatGL's ``state_attr``.
        names: How a conversion error names each structure (default ``structure <position> (<formula>)``).

    Raises:
        ValueError: Naming the structure, for one the converter refuses; if ``state_attr`` has the wrong number of
            rows or a non-finite row (named).
    """
    structures = list(structures)
    if names is not None and len(names) != len(structures):
        raise ValueError(f"{len(names)} names for {len(structures)} structures")
    dataset = MGLDataset(
        structures=structures,
        converter=_NamingConverter(converter, structures, names),
        labels={LABEL: [float(v) for v in ln_tc]},
        save_cache=False,
        root=tempfile.gettempdir(),
    )
    if state_attr is not None:
        state = np.asarray(state_attr, dtype=np.float32)
        if state.ndim != 2 or len(state) != len(dataset):
            raise ValueError(f"state_attr has shape {state.shape}; expected ({len(dataset)}, d), a row per structure")
        bad = np.flatnonzero(~np.isfinite(state).all(axis=1))
        if bad.size:
            raise ValueError(f"state_attr row {int(bad[0])} has non-finite values")
        dataset.state_attr = torch.from_numpy(state)
    return dataset


def model_inputs(model: SODNet | MEGNetTc, state_attr: torch.Tensor) -> dict[str, torch.Tensor]:
    """The batch's ``state_attr`` as a keyword for a model that reads a state vector, else nothing."""
    return {"state_attr": state_attr} if getattr(model, "state_dim", 0) else {}


def make_loader(dataset, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
    """A DataLoader of MatGL graph batches; shuffling uses its own seeded generator."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=collate_fn_graph,
        generator=torch.Generator().manual_seed(seed) if shuffle else None,
        num_workers=0,
    )


def records_dataset(records: Sequence, converter: OccupancyStructure2Graph) -> MGLDataset:
    """:func:`graph_dataset` of records with ``structure`` and ``tc``, ln Tc labelled; an error names the record."""
    names = [f"record {r.id}" for r in records]
    return graph_dataset([r.structure for r in records], np.log([r.tc for r in records]), converter, names=names)


@torch.no_grad()
def predict_dataset(model: SODNet | MEGNetTc, dataset, batch_size: int = 64) -> np.ndarray:
    """Predictions of the model's target (ln Tc for SODNet) for a graph dataset, in order."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for g, lat, state_attr, _ in make_loader(dataset, batch_size, shuffle=False):
        if lat.dim() == 2:
            lat = lat.unsqueeze(0)
        out.append(model(g.to(device), lat=lat.to(device), **model_inputs(model, state_attr.to(device))).cpu())
    return torch.cat(out).numpy()
