"""Explore substitutional doping: put a dopant on a host element's sites by occupancy and rank the variants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from pymatgen.core import Composition, Element, Structure

from matgl_supercon._io import write_bytes_atomic
from matgl_supercon.graph import as_structure, virtual_crystal
from matgl_supercon.models.ensemble import TcEnsemble
from matgl_supercon.pretrained import COMPOSITION_MEMBERS
from matgl_supercon.workflows.predict import TcPrediction, predict_formula_tc, predict_tc, resolve_model

if TYPE_CHECKING:
    from ase import Atoms

#: Dopant fractions (of the host's occupancy) a doped copy draws from (:func:`doped_copies`).
DOPED_COPY_FRACTIONS = (0.1, 0.25, 0.5)


@dataclass
class DopingVariant:
    """One doped variant and its prediction."""

    dopant: str
    fraction: float
    structure: Structure
    prediction: TcPrediction


def _check_substitution(host: str, dopant: str, fraction: float) -> None:
    """Refuse a fraction outside (0, 1], an unknown element symbol, or a host that is its own dopant."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction {fraction} must be in (0, 1]")
    for symbol in (host, dopant):
        if not Element.is_valid_symbol(symbol):
            raise ValueError(f"{symbol!r} is not an element symbol")
    if host == dopant:
        raise ValueError(f"host and dopant are both {host}")


def _check_each_once(dopants: Sequence[str], fractions: Sequence[float]) -> None:
    """Refuse a dopant or fraction listed twice: its variants would be duplicates."""
    for name, values in (("dopant", list(dopants)), ("fraction", [float(x) for x in fractions])):
        twice = sorted({v for v in values if values.count(v) > 1}, key=str)
        if twice:
            raise ValueError(f"{name} {', '.join(map(str, twice))} listed twice: each variant is made once")


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
    _check_substitution(host, dopant, fraction)
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
    allow_overlaps: bool = False,
) -> list[DopingVariant]:
    """Predict Tc of every (dopant, fraction) variant of ``parent``, best first; optionally write CIFs.

    Args:
        parent: Parent structure (pymatgen ``Structure`` or ASE ``Atoms``).
        host: Element whose sites receive the dopant.
        dopants: Dopant elements.
        fractions: Dopant fractions of the host occupancy.
        model: Shipped model name, model folder, or loaded ensemble.
        out_dir: When given, each variant is written as ``<formula>.cif`` there.
        allow_overlaps: Accept two atoms closer than 0.5 A whose occupancies sum above 1 (an atom a CIF lists twice).

    Returns:
        Variants sorted by predicted Tc, highest first.

    Raises:
        ValueError: For a dopant or fraction listed twice (its variants would be duplicates), and as
            :func:`substitute` does.
    """
    _check_each_once(dopants, fractions)
    ensemble = resolve_model(model)
    parent = as_structure(parent)  # once, not once per variant
    variants = [(d, x, substitute(parent, host, d, x)) for d in dopants for x in fractions]
    predictions = predict_tc([s for _, _, s in variants], ensemble, allow_overlaps=allow_overlaps)
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


def substitute_formula(formula: str | Composition, host: str, dopant: str, fraction: float) -> Composition:
    """Replace ``fraction`` of ``host`` in a formula by ``dopant``: Mg B2 with Al at 0.1 is Mg0.9 Al0.1 B2.

    The formula's own amounts are kept (not atom fractions), as :func:`substitute` keeps a structure's sites.

    Raises:
        ValueError: As :func:`substitute` does, naming the formula when the host is absent or it does not parse.
    """
    _check_substitution(host, dopant, fraction)
    try:
        amounts = {el.symbol: amount for el, amount in Composition(formula).element_composition.items()}
    except (ValueError, KeyError) as error:
        raise ValueError(f"formula {str(formula)!r} cannot be parsed ({error})") from None
    if host not in amounts:
        raise ValueError(f"host element {host} is not in {formula}")
    amounts[dopant] = amounts.get(dopant, 0.0) + amounts[host] * fraction
    amounts[host] *= 1 - fraction
    return Composition({symbol: amount for symbol, amount in amounts.items() if amount > 0})


def explore_formula_doping(
    formula: str | Composition,
    host: str,
    dopants: Sequence[str],
    fractions: Sequence[float],
    model: str | Path | TcEnsemble = "SODNet-SuperCon3D",
    members: str = COMPOSITION_MEMBERS,
) -> list[DopingVariant]:
    """:func:`explore_doping` on a bare formula, predicted by the model's composition members, best first.

    Each variant is the formula with the substitution (:func:`substitute_formula`) and its ``structure`` the
    one-site :func:`~matgl_supercon.graph.virtual_crystal` it is read as (not a crystal to write out).

    Args:
        formula: Parent formula.
        host: Element replaced in part.
        dopants: Dopant elements.
        fractions: Dopant fractions of the host's amount.
        model: Shipped model name, model folder, or a loaded :class:`TcEnsemble` (then ``members`` is not read).
        members: As for :func:`~matgl_supercon.workflows.predict_formula_tc`.

    Raises:
        ValueError: As :func:`explore_doping` and :func:`substitute_formula` do, and for a model whose members read
            the structure.
    """
    _check_each_once(dopants, fractions)
    variants = [(d, x, substitute_formula(formula, host, d, x)) for d in dopants for x in fractions]
    predictions = predict_formula_tc([c for _, _, c in variants], model, members)
    return sorted(
        (DopingVariant(d, x, virtual_crystal(c), p) for (d, x, c), p in zip(variants, predictions, strict=True)),
        key=lambda v: v.prediction.tc,
        reverse=True,
    )


@cache
def group_neighbours(symbol: str) -> tuple[str, ...]:
    """Elements of ``symbol``'s group one row above or below it (noble gases and elements past Bi left out)."""
    element = Element(symbol)
    return tuple(
        other.symbol
        for other in (Element.from_Z(z) for z in range(1, 84))
        if other.group == element.group and abs(other.row - element.row) == 1 and not other.is_noble_gas
    )


def doped_copies(
    structures: Sequence[Structure], n_copies: int, seed: int = 0, fractions: Sequence[float] = DOPED_COPY_FRACTIONS
) -> tuple[list[Structure], list[int]]:
    """Randomly doped copies of each structure, as extra training structures for a teacher to label.

    Each copy partly replaces one element, drawn among the structure's elements, by one of its group neighbours
    (:func:`group_neighbours`) with a fraction drawn from ``fractions``: a substitutionally disordered site, as in
    the doping series that make up much of SuperCon. Drawn with a ``torch.Generator`` seeded by ``seed``.

    Args:
        structures: Parent structures (a structure none of whose elements has a group neighbour gets no copies).
        n_copies: Copies per structure.
        seed: Seed of the draws.
        fractions: Dopant fractions to draw from, each in (0, 1].

    Returns:
        The copies, in the order of their parents, and each copy's parent index.

    Raises:
        ValueError: For a negative ``n_copies`` or a fraction outside (0, 1].
    """
    if n_copies < 0:
        raise ValueError(f"n_copies must be >= 0, got {n_copies}")
    for x in fractions:
        if not 0 < x <= 1:
            raise ValueError(f"dopant fraction {x} must be in (0, 1]")
    generator = torch.Generator().manual_seed(seed)

    def draw(n: int) -> int:
        return int(torch.randint(n, (1,), generator=generator))

    copies, parents = [], []
    for index, structure in enumerate(structures):
        hosts = [e.symbol for e in structure.composition.elements if group_neighbours(e.symbol)]
        for _ in range(n_copies if hosts else 0):
            host = hosts[draw(len(hosts))]
            dopants = group_neighbours(host)
            copies.append(substitute(structure, host, dopants[draw(len(dopants))], fractions[draw(len(fractions))]))
            parents.append(index)
    return copies, parents


def teacher_labelled_copies(
    structures: Sequence[Structure],
    teacher: str | Path | TcEnsemble,
    n_copies: int,
    seed: int = 0,
    allow_overlaps: bool = False,
) -> tuple[list[Structure], np.ndarray]:
    """:func:`doped_copies` of ``structures`` with the ln(Tc / K) a teacher model predicts for them.

    Training a SODNet on its training structures plus these copies passes on what the teacher knows: with the
    fold's ``CompositionForestTc`` (grown beside the SuperCon formula table) as teacher, three copies per structure
    lowered the default SODNet's test MAE on SuperCon3D from 0.661 to 0.635 ln K over the paper's 10 folds, on 9 of
    them (``benchmarks/results/sodnet_distillation.md``); the retrieval SODNet with the formula memory, taught the
    same way (the copies kept out of its memory), from 0.635 to 0.578. For an honest test score the
    teacher must not have seen the test structures (nor their chemical systems, which the copies share).

    Args:
        structures: Training structures to copy.
        teacher: Shipped model name, model folder (e.g. ``mgl-supercon train --forest``'s ``model/``) or a loaded
            ensemble.
        n_copies: Copies per structure.
        seed: Seed of the draws.
        allow_overlaps: Accept copies with overlapping atoms, as copies of five SuperCon3D crystals have (see
            :meth:`SODNet.make_converter`).

    Returns:
        The copies and their teacher labels ``[n_copies_made]`` (ln K, float64).
    """
    copies, _ = doped_copies(structures, n_copies, seed)
    model = resolve_model(teacher)
    labels = model.predict_graphs(model.graphs(copies, allow_overlaps))[0] if copies else torch.zeros(0)
    return copies, labels.double().numpy()
