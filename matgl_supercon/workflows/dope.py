"""Explore substitutional doping: put a dopant on a host element's sites by occupancy and rank the variants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pymatgen.core import Composition, Element, Structure

from matgl_supercon._io import write_bytes_atomic
from matgl_supercon.graph import as_structure
from matgl_supercon.models.ensemble import TcEnsemble
from matgl_supercon.workflows.predict import TcPrediction, predict_tc, resolve_model

if TYPE_CHECKING:
    from ase import Atoms


@dataclass
class DopingVariant:
    """One doped variant and its prediction."""

    dopant: str
    fraction: float
    structure: Structure
    prediction: TcPrediction


def substitute(structure: Structure | Atoms, host: str, dopant: str, fraction: float) -> Structure:
    """Replace ``fraction`` of ``host`` on every site that holds it by ``dopant`` (occupancy substitution).

    A site {host: o, ...} becomes {host: o (1 - x), dopant: o x, ...}; other species are untouched, so
    vacancies and existing disorder are kept.

    Args:
        structure: Parent structure (ordered or disordered; pymatgen ``Structure`` or ASE ``Atoms``).
        host: Element to substitute.
        dopant: Element put in its place.
        fraction: x in (0, 1].

    Returns:
        A new structure with substitutional disorder on the host sites.

    Raises:
        ValueError: When ``fraction`` is outside (0, 1], an element symbol is unknown, or the host is absent.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction {fraction} must be in (0, 1]")
    for symbol in (host, dopant):
        if not Element.is_valid_symbol(symbol):
            raise ValueError(f"{symbol!r} is not an element symbol")
    if host == dopant:
        raise ValueError(f"host and dopant are both {host}")
    structure = as_structure(structure)
    doped = structure.copy()
    touched = 0
    for i, site in enumerate(structure):
        amounts = {str(getattr(sp, "symbol", sp)): amt for sp, amt in site.species.items()}
        if host not in amounts:
            continue
        occ = amounts.pop(host)
        amounts[host] = occ * (1 - fraction)
        amounts[dopant] = amounts.get(dopant, 0.0) + occ * fraction
        doped.replace(i, Composition({k: v for k, v in amounts.items() if v > 0}), site.frac_coords)
        touched += 1
    if not touched:
        raise ValueError(f"host element {host} is not in {structure.composition.reduced_formula}")
    return doped


def explore_doping(
    parent: Structure | Atoms,
    host: str,
    dopants: Sequence[str],
    fractions: Sequence[float],
    model: str | Path | TcEnsemble = "SODNet-SuperCon3D",
    out_dir: str | Path | None = None,
) -> list[DopingVariant]:
    """Predict Tc of every (dopant, fraction) variant of ``parent``, best first; optionally write CIFs.

    Args:
        parent: Parent structure (pymatgen ``Structure`` or ASE ``Atoms``).
        host: Element whose sites receive the dopant.
        dopants: Dopant elements.
        fractions: Dopant fractions of the host occupancy.
        model: Shipped model name, model folder, or loaded ensemble.
        out_dir: When given, each variant is written as ``<formula>.cif`` there.

    Returns:
        Variants sorted by predicted Tc, highest first.
    """
    ensemble = resolve_model(model)
    parent = as_structure(parent)  # once, not once per variant
    variants = [(d, x, substitute(parent, host, d, x)) for d in dopants for x in fractions]
    predictions = predict_tc([s for _, _, s in variants], ensemble)
    ranked = sorted(
        (DopingVariant(d, x, s, p) for (d, x, s), p in zip(variants, predictions, strict=True)),
        key=lambda v: v.prediction.tc,
        reverse=True,
    )
    if out_dir is not None:
        names = [f"{v.prediction.formula}.cif" for v in ranked]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:  # e.g. fractions 0.1 and 0.10: one file would silently overwrite the other
            raise ValueError(f"{out_dir}: several variants would be written as {', '.join(twice)}")
        for name, v in zip(names, ranked, strict=True):
            write_bytes_atomic(Path(out_dir) / name, v.structure.to(fmt="cif").encode("utf-8"))
    return ranked
