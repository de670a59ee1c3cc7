"""Crystals as tensors for the generator: lattice, fractional coordinates, atom types, batch index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from pymatgen.core import Lattice, Structure

from matgl_supercon.graph import compact_formula


@dataclass
class CrystalBatch:
    """A batch of ordered crystals.

    Attributes:
        lattice: ``[B, 3, 3]`` lattice matrices (rows are vectors, Å).
        frac: ``[N, 3]`` fractional coordinates in [0, 1).
        types: ``[N]`` indices into the model's element list.
        batch: ``[N]`` crystal of each atom.
        n_atoms: ``[B]`` atoms per crystal.
        ln_tc: ``[B]`` condition (ln Tc / K), ``nan`` where there is none.
    """

    lattice: torch.Tensor
    frac: torch.Tensor
    types: torch.Tensor
    batch: torch.Tensor
    n_atoms: torch.Tensor
    ln_tc: torch.Tensor

    @property
    def num_crystals(self) -> int:
        """B."""
        return int(self.n_atoms.numel())

    @classmethod
    def from_structures(
        cls,
        structures: Sequence[Structure],
        element_types: Sequence[str],
        ln_tc: Sequence[float] | None = None,
        names: Sequence[str] | None = None,
    ) -> CrystalBatch:
        """Stack ordered structures; lattices are put in pymatgen's standard orientation from their parameters.

        Raises:
            ValueError: Naming the structure (by ``names`` or position) that is disordered or has an
                element outside ``element_types``.
        """
        column = {el: i for i, el in enumerate(element_types)}
        lattices, fracs, types, counts = [], [], [], []
        for k, s in enumerate(structures):
            label = names[k] if names is not None else f"structure {k}"
            if not s.is_ordered:
                raise ValueError(
                    f"{label} ({compact_formula(s.composition)}): the generator takes ordered structures only"
                )
            symbols = [site.specie.symbol for site in s]
            missing = sorted(set(symbols) - column.keys())
            if missing:
                raise ValueError(f"{label}: elements {missing} are not in the generator's element list")
            lattices.append(Lattice.from_parameters(*s.lattice.parameters).matrix)
            fracs.append(np.mod(s.frac_coords, 1.0))
            types.append([column[x] for x in symbols])
            counts.append(len(s))
        n_atoms = torch.tensor(counts)
        return cls(
            lattice=torch.tensor(np.array(lattices), dtype=torch.float32),
            frac=torch.tensor(np.concatenate(fracs), dtype=torch.float32),
            types=torch.tensor(np.concatenate(types), dtype=torch.long),
            batch=torch.repeat_interleave(torch.arange(len(counts)), n_atoms),
            n_atoms=n_atoms,
            ln_tc=torch.tensor(ln_tc if ln_tc is not None else [float("nan")] * len(counts), dtype=torch.float32),
        )

    def to_structures(self, element_types: Sequence[str]) -> list[Structure]:
        """Pymatgen structures of the batch."""
        out = []
        for b in range(self.num_crystals):
            sel = self.batch == b
            out.append(
                Structure(
                    Lattice(self.lattice[b].double().numpy()),
                    [element_types[int(t)] for t in self.types[sel]],
                    self.frac[sel].double().numpy(),
                )
            )
        return out

    def subset(self, index: Sequence[int]) -> CrystalBatch:
        """The crystals at ``index`` as a new batch."""
        index = torch.as_tensor(index, dtype=torch.long)
        keep = torch.isin(self.batch, index)
        remap = torch.full((self.num_crystals,), -1, dtype=torch.long)
        remap[index] = torch.arange(len(index))
        order = torch.argsort(remap[self.batch[keep]], stable=True)
        return CrystalBatch(
            lattice=self.lattice[index],
            frac=self.frac[keep][order],
            types=self.types[keep][order],
            batch=remap[self.batch[keep]][order],
            n_atoms=self.n_atoms[index],
            ln_tc=self.ln_tc[index],
        )


def fully_connected_edges(batch: torch.Tensor) -> torch.Tensor:
    """All ordered pairs (i, j), i != j, of atoms in the same crystal: ``[2, n_edges]``."""
    same = batch[:, None] == batch[None, :]
    same.fill_diagonal_(False)
    return same.nonzero().T
