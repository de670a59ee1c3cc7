"""Generate crystals for a target Tc with a trained DiffCSP-SC model and score them with SODNet."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matgl
import numpy as np
import torch

from matgl_supercon._fingerprint import model_fingerprint
from matgl_supercon._io import read_csv_rows, record_or_check_settings, write_bytes_atomic, write_csv_atomic
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


def _batch_generator(seed: int, index: int) -> torch.Generator:
    """The generator of batch ``index``: its own stream, so a resumed run samples what an uninterrupted one does."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0]))


def _read_summary(path: Path) -> list[dict]:
    rows = read_csv_rows(path)
    for row in rows:  # back to the types of freshly made rows
        row["n_atoms"] = int(row["n_atoms"])
        for key in ("structurally_valid", "compositionally_valid"):
            row[key] = row[key] == "True"
        row["novel"] = "" if row["novel"] == "" else row["novel"] == "True"
        row["sodnet_tc"] = float(row["sodnet_tc"])
    return rows


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

    Each batch's CIFs and the summary are written atomically as soon as the batch is sampled and scored, and each
    batch draws from its own seeded stream: a killed run, started again with the same arguments, keeps the batches
    already in ``summary.csv`` and makes the rest, ending with the crystals an uninterrupted run makes.
    ``generation.json`` records the settings (the generator's and the scorer's fingerprints included), and a rerun
    with other settings into the same folder stops with the difference named.

    Args:
        generator_dir: Folder of a saved :class:`DiffCSPSC` (``model.save``) in ``"ab_initio"`` mode, or the
            name of a shipped one (:data:`DEFAULT_GENERATOR`).
        target_tc: Target Tc in K (``None``: unconditional).
        n: Number of crystals.
        out_dir: Output folder (``sample_<i>.cif``, ``summary.csv`` and ``generation.json``).
        scorer: SODNet ensemble used to predict the samples' Tc (``None`` skips it).
        training_structures: Structures for the novelty check (``None`` leaves novelty empty).
        guidance: Classifier-free guidance scale.
        batch_size: Crystals sampled together.
        seed: Seed of the sampler's generators.
        progress: Show a progress bar per batch.

    Returns:
        The summary rows; ``score_error`` says why a crystal has no SODNet Tc.

    Raises:
        ValueError: For a generator that is not an ab initio DiffCSPSC, a non-positive ``target_tc``, ``n`` or
            ``batch_size`` below 1, a negative or non-finite ``guidance``, or an output folder holding samples made
            with other settings.
    """
    if target_tc is not None and not target_tc > 0:
        raise ValueError(f"target_tc must be a positive temperature in K, got {target_tc}")
    if not (guidance >= 0 and math.isfinite(guidance)):
        raise ValueError(f"guidance must be a finite scale of at least 0, got {guidance}")
    if n < 1 or batch_size < 1:
        raise ValueError(f"n and batch_size must be at least 1, got n={n}, batch_size={batch_size}")
    model = matgl.load_model(resolve_generator(generator_dir))
    if not isinstance(model, DiffCSPSC) or model.mode != "ab_initio":
        raise ValueError(f"{generator_dir}: needs a DiffCSPSC saved in 'ab_initio' mode")
    ensemble = resolve_model(scorer) if scorer is not None else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = out / "summary.csv"
    rows = _read_summary(summary)
    settings = {
        "generator": model_fingerprint(model),
        "target_tc": target_tc,
        "n": n,
        "guidance": guidance,
        "batch_size": batch_size,
        "seed": seed,
        "scorer": None if ensemble is None else ensemble.fingerprint(),
        "novelty_structures": None if training_structures is None else len(training_structures),
    }
    record_or_check_settings(out / "generation.json", settings, resuming=bool(rows))
    ln_tc = None if target_tc is None else math.log(target_tc)
    for index, start in enumerate(range(0, n, batch_size)):
        if start < len(rows):
            continue  # this batch is in the summary already
        generator = _batch_generator(seed, index)
        n_atoms = model.sample_n_atoms(min(batch_size, n - start), generator)
        batch = sample(
            model,
            n_atoms,
            ln_tc=ln_tc,
            guidance=guidance if ln_tc is not None else 0.0,
            generator=generator,
            progress=progress,
        )
        structures = batch.to_structures(model.element_types)
        valid = [structurally_valid(s) for s in structures]
        predicted = [float("nan")] * len(structures)
        score_error = ["" if ok else "structurally invalid: not scored" for ok in valid]
        if ensemble is not None:
            candidates = [i for i, ok in enumerate(valid) if ok]
            converted, graphs, errors = ensemble.graphs_or_errors([structures[i] for i in candidates])
            for j, message in errors.items():
                score_error[candidates[j]] = message
            if converted:
                mean, _ = ensemble.predict_graphs(graphs)
                for j, value in zip(converted, mean.tolist(), strict=True):
                    predicted[candidates[j]] = math.exp(value)
        else:
            score_error = ["no scorer"] * len(structures)
        for i, structure in enumerate(structures):
            name = f"sample_{start + i:04d}.cif"
            write_bytes_atomic(out / name, structure.to(fmt="cif").encode("utf-8"))
            rows.append(
                {
                    "file": name,
                    "formula": structure.composition.reduced_formula,
                    "n_atoms": len(structure),
                    "structurally_valid": valid[i],
                    "compositionally_valid": compositionally_valid(structure),
                    "novel": "" if training_structures is None else novel(structure, training_structures),
                    "sodnet_tc": predicted[i],
                    "score_error": score_error[i],
                }
            )
        write_csv_atomic(summary, rows, SUMMARY_FIELDS)
    return rows
