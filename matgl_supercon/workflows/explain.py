"""Which sites drive a prediction: each site's share of the predicted ln Tc."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pymatgen.core import Structure

from matgl_supercon.graph import as_structure, classify_disorder, compact_formula
from matgl_supercon.models.ensemble import TcEnsemble
from matgl_supercon.workflows.predict import resolve_model

if TYPE_CHECKING:
    from ase import Atoms


@dataclass
class SiteContribution:
    """A site's share of ln Tc (shares sum to the structure's ln Tc)."""

    index: int
    species: str
    frac_coords: tuple[float, float, float]
    disorder: str
    contribution: float


def explain_structure(
    structure: Structure | Atoms,
    model: str | Path | TcEnsemble = "SODNet-SuperCon3D",
    png: str | Path | None = None,
    allow_overlaps: bool = False,
    structure_only: bool = False,
) -> list[SiteContribution]:
    """Per-site contributions to the predicted ln Tc, optionally drawn as a bar chart.

    SODNet's ln Tc is the occupancy-weighted mean of per-site values, so each site's weighted value
    is an exact additive share; the shares are averaged over ensemble members (weighted like the prediction).
    Composition members (``CompositionTc``, ``CompositionForestTc``) see no structure and give each site its
    occupancy share of their prediction, so differences between sites beyond their occupancy come from the
    SODNet members alone. In the shipped ensemble the composition members carry most of the weight, so its shares
    stay close to the sites' occupancy shares; ``structure_only`` shows what the SODNet members read instead.

    Args:
        structure: Input structure (pymatgen ``Structure`` or ASE ``Atoms``).
        model: Shipped model name, model folder, or loaded ensemble.
        png: Where to save a bar chart of the shares.
        allow_overlaps: Accept two atoms closer than 0.5 A whose occupancies sum above 1 (an atom a CIF lists twice).
        structure_only: Average the shares over the members that read the structure (SODNet), equally weighted; they
            then sum to those members' mean ln Tc instead of the ensemble's (:meth:`TcEnsemble.site_contributions`).

    Returns:
        One entry per site, in site order.
    """
    ensemble = resolve_model(model)
    structure = as_structure(structure)
    shares = ensemble.site_contributions(structure, allow_overlaps, structure_only).numpy()
    _, site_kinds = classify_disorder(structure)
    rows = [
        SiteContribution(
            index=i,
            species=compact_formula(site.species),
            frac_coords=tuple(float(c) for c in np.round(site.frac_coords, 4)),
            disorder=site_kinds[i],
            contribution=float(shares[i]),
        )
        for i, site in enumerate(structure)
    ]
    if png is not None:
        from matgl_supercon.benchmarks import site_share_bar

        whose = "the structure-reading members' ln Tc" if structure_only else "ln Tc"
        site_share_bar(
            [f"{r.index}:{r.species}" for r in rows],
            [r.contribution for r in rows],
            png,
            f"{structure.composition.reduced_formula}: site shares of {whose} = {shares.sum():.3f}",
        )
    return rows
