"""Predict Tc with uncertainty for structures or files."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pymatgen.core import Composition, Structure

from matgl_supercon.data import read_structure
from matgl_supercon.graph import as_structure, classify_disorder, compact_formula, virtual_crystal
from matgl_supercon.models.ensemble import TcEnsemble
from matgl_supercon.pretrained import COMPOSITION_MEMBERS, load_model

if TYPE_CHECKING:
    from ase import Atoms


@dataclass
class TcPrediction:
    """One prediction. ``tc_low``/``tc_high`` are exp(mean ln Tc ∓ ensemble sd).

    ``unseen_elements`` names (``;``-separated) the elements that no structure of the model's training data held:
    the prediction extrapolates, and its range is no measure of that (see :meth:`TcEnsemble.unseen_elements`).
    ``disorder`` is one of ordered / SD / PD / SPD / vacancy, or ``unknown`` for a bare formula
    (:func:`predict_formula_tc`).
    """

    source: str
    formula: str
    disorder: str
    tc: float
    ln_tc: float
    ln_tc_sd: float
    tc_low: float
    tc_high: float
    unseen_elements: str = ""

    def as_dict(self) -> dict:
        """Plain dict for JSON/CSV output."""
        return asdict(self)


def make_prediction(
    source: str,
    structure: Structure,
    ln_tc: float,
    ln_tc_sd: float,
    disorder: str | None = None,
    unseen_elements: Sequence[str] = (),
) -> TcPrediction:
    """Assemble a :class:`TcPrediction` from a model's ln Tc mean and spread (``disorder`` if already known)."""
    return TcPrediction(
        source=source,
        formula=compact_formula(structure.composition),
        disorder=disorder or classify_disorder(structure)[0],
        tc=math.exp(ln_tc),
        ln_tc=ln_tc,
        ln_tc_sd=ln_tc_sd,
        tc_low=math.exp(ln_tc - ln_tc_sd),
        tc_high=math.exp(ln_tc + ln_tc_sd),
        unseen_elements=";".join(unseen_elements),
    )


def resolve_model(model: str | Path | TcEnsemble) -> TcEnsemble:
    """Accept a loaded ensemble, a shipped name or a model folder."""
    return model if isinstance(model, TcEnsemble) else load_model(model)


def predict_tc(
    structures: Sequence[Structure | Atoms | str | Path],
    model: str | Path | TcEnsemble = "SODNet-SuperCon3D",
    batch_size: int = 16,
    allow_overlaps: bool = False,
) -> list[TcPrediction]:
    """Predict Tc of structures (or structure files), ordered or disordered.

    Args:
        structures: pymatgen structures, ASE ``Atoms`` (occupancies from ``info["occupancy"]``), or paths to any
            file pymatgen reads.
        model: Shipped model name, model folder, or a loaded :class:`TcEnsemble`.
        batch_size: Structures per forward pass.
        allow_overlaps: Accept two atoms closer than 0.5 A whose occupancies sum above 1, such as an atom a CIF lists
            twice (five SuperCon3D CIFs do); by default such a structure is refused, naming the two sites.

    Returns:
        One :class:`TcPrediction` per input, in order.

    Raises:
        ValueError: Naming the file for unreadable input, or the site for invalid structures.
    """
    ensemble = resolve_model(model)
    parsed, sources = [], []
    for item in structures:
        if isinstance(item, str | Path):
            parsed.append(read_structure(item))
            sources.append(str(item))
        else:
            parsed.append(as_structure(item))
            sources.append(parsed[-1].composition.reduced_formula)
    mean, sd = ensemble.predict_ln_tc(parsed, batch_size, allow_overlaps)
    return [
        make_prediction(source, structure, m, s, unseen_elements=ensemble.unseen_elements(structure))
        for source, structure, m, s in zip(sources, parsed, mean.tolist(), sd.tolist(), strict=True)
    ]


#: ``TcPrediction.disorder`` of a formula: it does not say how its atoms share sites.
UNKNOWN_DISORDER = "unknown"


def predict_formula_tc(
    formulas: Sequence[str | Composition],
    model: str | Path | TcEnsemble = "SODNet-SuperCon3D",
    members: str = COMPOSITION_MEMBERS,
    batch_size: int = 16,
) -> list[TcPrediction]:
    """Predict Tc of bare formulas (no structure) with a model's composition-only members.

    The shipped ensemble's composition members (extra trees on composition statistics, grown also on the SuperCon
    formula table) are most of its weight; its SODNet members, which read the structure, sit out. A formula reads
    as one of the formula-table rows did, blind to polymorphs and vacancies (:meth:`TcEnsemble.predict_formulas`).

    Args:
        formulas: Formulas (``"Mg0.9Al0.1B2"``) or pymatgen compositions.
        model: Shipped model name or model folder, or a loaded :class:`TcEnsemble` (then ``members`` is not read).
        members: The subset of the model's members to load. A folder that names no ``composition`` subset (a
            forest of your own, ``mgl-supercon train --forest``) is loaded whole when all its members read
            compositions only.
        batch_size: Formulas per forward pass.

    Returns:
        One :class:`TcPrediction` per formula, in order (``source``: the formula as given; ``disorder``:
        ``unknown``).

    Raises:
        ValueError: Naming the formula that cannot be parsed or holds an element the model cannot read, or for a
            model whose members read the structure.
    """
    formulas = list(formulas)  # read twice below: a generator would be spent by the first pass
    ensemble = model if isinstance(model, TcEnsemble) else composition_members(model, members)
    mean, sd = ensemble.predict_formulas(formulas, batch_size)
    return [
        formula_prediction(formula, m, s, ensemble)  # parsed already by predict_formulas, which names a bad one
        for formula, m, s in zip(formulas, mean.tolist(), sd.tolist(), strict=True)
    ]


def formula_prediction(formula: str | Composition, ln_tc: float, ln_tc_sd: float, ensemble: TcEnsemble) -> TcPrediction:
    """A :class:`TcPrediction` of a formula (``source``: as given; ``formula``: as written, not as atom fractions)."""
    crystal = virtual_crystal(formula)
    prediction = make_prediction(
        str(formula), crystal, ln_tc, ln_tc_sd, UNKNOWN_DISORDER, ensemble.unseen_elements(crystal)
    )
    return replace(prediction, formula=compact_formula(Composition(formula)))


def composition_members(model: str | Path, members: str) -> TcEnsemble:
    """``load_model(model, members)``; for the default subset, a folder that names none is loaded whole.

    A whole folder whose members read the structure is then refused by :meth:`TcEnsemble.predict_formulas`, which
    says why.

    Raises:
        ValueError: As :func:`~matgl_supercon.pretrained.load_model`, for a subset other than the default that the
            folder does not name.
    """
    try:
        return load_model(model, members=members)
    except ValueError:
        if members != COMPOSITION_MEMBERS:
            raise
        return load_model(model)
