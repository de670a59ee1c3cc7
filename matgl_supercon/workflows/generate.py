"""Generate crystals for a target Tc with a trained DiffCSP-SC model and score them with SODNet."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import matgl
import torch

from matgl_supercon.generate import DiffCSPSC, compositionally_valid, novel, sample, structurally_valid
from matgl_supercon.models.ensemble import TcEnsemble
from matgl_supercon.pretrained import pretrained_dir
from matgl_supercon.workflows.predict import resolve_model

SUMMARY_FIELDS = (
    "file",
    "formula",
    "n_atoms",
    "structurally_valid",
    "compositionally_valid",
    "novel",
    "sodnet_tc",
    "score_error",
)


#: Name of the shipped generator (DiffCSP-SC split, ab initio, conditioned on ln Tc).
DEFAULT_GENERATOR = "DiffCSPSC-SuperCon"


def resolve_generator(name_or_path: str | Path) -> Path:
    """A saved DiffCSPSC folder, or the folder of a generator shipped under that name.

    Raises:
        ValueError: If it is neither a folder with ``model.json`` nor a shipped generator name.
    """
    path = Path(name_or_path)
    if (path / "model.json").exists():
        return path
    shipped = pretrained_dir(str(name_or_path))
    if (shipped / "model.json").exists():
        return shipped
    raise ValueError(f"{name_or_path}: not a saved DiffCSPSC folder (no model.json) nor a shipped generator name")


def generate_for_tc(
    generator_dir: str | Path,
    target_tc: float | None,
    n: int,
    out_dir: str | Path,
    scorer: str | Path | TcEnsemble | None = "SODNet-SuperCon3D",
    training_structures: Sequence | None = None,
    guidance: float = 1.0,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> list[dict]:
    """Sample ``n`` crystals (ab initio) at ``target_tc``, write CIFs and ``summary.csv`` to ``out_dir``.

    Args:
        generator_dir: Folder of a saved :class:`DiffCSPSC` (``model.save``) in ``"ab_initio"`` mode, or the
            name of a shipped one (:data:`DEFAULT_GENERATOR`).
        target_tc: Target Tc in K (``None``: unconditional).
        n: Number of crystals.
        out_dir: Output folder (``sample_<i>.cif`` and ``summary.csv``).
        scorer: SODNet ensemble used to predict the samples' Tc (``None`` skips it).
        training_structures: Structures for the novelty check (``None`` leaves novelty empty).
        guidance: Classifier-free guidance scale.
        batch_size: Crystals sampled together.
        seed: Seed of the sampler's generator.
        progress: Show a progress bar per batch.

    Returns:
        The summary rows.
    """
    model = matgl.load_model(resolve_generator(generator_dir))
    if not isinstance(model, DiffCSPSC) or model.mode != "ab_initio":
        raise ValueError(f"{generator_dir}: needs a DiffCSPSC saved in 'ab_initio' mode")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    ln_tc = None if target_tc is None else math.log(target_tc)
    structures = []
    for start in range(0, n, batch_size):
        n_atoms = model.sample_n_atoms(min(batch_size, n - start), generator)
        batch = sample(
            model,
            n_atoms,
            ln_tc=ln_tc,
            guidance=guidance if ln_tc is not None else 0.0,
            generator=generator,
            progress=progress,
        )
        structures += batch.to_structures(model.element_types)
    ensemble = resolve_model(scorer) if scorer is not None else None
    valid = [structurally_valid(s) for s in structures]
    predicted = [float("nan")] * len(structures)
    score_error = ["" if ok else "structurally invalid" for ok in valid]
    if ensemble is not None:
        candidates = [i for i, ok in enumerate(valid) if ok]
        converted, graphs, errors = ensemble.graphs_or_errors([structures[i] for i in candidates])
        scored = [candidates[j] for j in converted]
        for j, message in errors.items():
            score_error[candidates[j]] = message
        if scored:
            mean, _ = ensemble.predict_graphs(graphs)
            for i, value in zip(scored, mean.tolist(), strict=True):
                predicted[i] = math.exp(value)
    rows = []
    for i, structure in enumerate(structures):
        name = f"sample_{i:04d}.cif"
        structure.to(filename=str(out / name))
        rows.append(
            {
                "file": name,
                "formula": structure.composition.reduced_formula,
                "n_atoms": len(structure),
                "structurally_valid": valid[i],
                "compositionally_valid": compositionally_valid(structure),
                "novel": "" if training_structures is None else novel(structure, training_structures),
                "sodnet_tc": predicted[i],
            }
        )
    with (out / "summary.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUMMARY_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return rows
