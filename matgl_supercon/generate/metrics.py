"""Generation metrics: CSP match rate / RMSE (DiffCSP's protocol), validity, uniqueness, novelty, success rates."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure


def csp_matcher() -> StructureMatcher:
    """DiffCSP's matcher: ``StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3)``."""
    return StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3)


def structurally_valid(structure: Structure, min_distance: float = 0.5, min_volume: float = 0.1) -> bool:
    """All interatomic distances above ``min_distance`` Å (periodic) and volume above ``min_volume`` Å³.

    This is CDVAE's and DiffCSP's test, kept as they define it so that rates compare with theirs: it measures each
    pair of distinct sites (nearest image) but not a site against its own periodic image, so a cell shorter than
    ``min_distance`` passes; SODNet's graph converter refuses such a crystal (its score error says so).
    """
    if not np.isfinite(structure.lattice.matrix).all() or structure.volume <= min_volume:
        return False
    if len(structure) < 2:
        return True
    distances = structure.distance_matrix + np.eye(len(structure)) * 1e6
    return bool(distances.min() > min_distance)


#: Most oxidation-state combinations the SMACT test enumerates; CDVAE counts a composition with more as invalid.
MAX_OXIDATION_COMBINATIONS = 10**6


def compositionally_valid(structure: Structure) -> bool:
    """SMACT charge neutrality with Pauling electronegativity ordering (CDVAE/DiffCSP's test).

    A composition with more than :data:`MAX_OXIDATION_COMBINATIONS` oxidation-state combinations (many
    elements, each with many states, as an undertrained generator emits) counts as invalid, as in CDVAE's
    ``smact_validity``; enumerating them would take hours.
    """
    import smact
    from smact.screening import pauling_test

    elements, counts = zip(*structure.composition.get_el_amt_dict().items(), strict=True)
    if len(set(elements)) == 1:
        return True
    integer = [round(c) for c in counts]
    counts = [round(c) for c in np.array(integer) // np.gcd.reduce(integer)]
    space = smact.element_dictionary(elements)
    smact_elements = [space[e] for e in elements]
    electronegs = [e.pauling_eneg for e in smact_elements]
    if np.prod([float(len(e.oxidation_states)) for e in smact_elements]) > MAX_OXIDATION_COMBINATIONS:
        return False
    for oxidation_states in itertools.product(*[e.oxidation_states for e in smact_elements]):
        # SMACT >= 3 returns the list of neutral ratios (empty when none).
        neutral = smact.neutral_ratios(oxidation_states, stoichs=[[c] for c in counts], threshold=max(counts))
        if neutral and (None in electronegs or pauling_test(oxidation_states, electronegs)):
            return True
    return False


def match_rate_and_rmse(predicted: Sequence[Structure | None], targets: Sequence[Structure]) -> tuple[float, float]:
    """Fraction of targets matched by their prediction, and the mean normalised RMSE over matches.

    pymatgen's ``get_rms_dist`` normalises by (V / N)^(1/3), as DiffCSP reports. Invalid predictions
    (``None`` or structurally invalid) count as misses.
    """
    matcher = csp_matcher()
    rms = []
    for pred, target in zip(predicted, targets, strict=True):
        if pred is None or not structurally_valid(pred):
            continue
        try:
            result = matcher.get_rms_dist(pred, target)
        except Exception:  # pymatgen raises on some degenerate lattices; such a prediction is a miss
            result = None
        if result is not None:
            rms.append(result[0])
    rate = len(rms) / len(targets) if targets else float("nan")
    return rate, float(np.mean(rms)) if rms else float("nan")


def uniqueness(structures: Sequence[Structure]) -> float:
    """Fraction of structures not matched by an earlier one in the list."""
    matcher = csp_matcher()
    unique: list[Structure] = []
    for s in structures:
        if not any(matcher.fit(s, u) for u in unique):
            unique.append(s)
    return len(unique) / len(structures) if structures else float("nan")


def novel(structure: Structure, training: Sequence[Structure]) -> bool:
    """No training structure of the same reduced formula matches ``structure``."""
    matcher = csp_matcher()
    formula = structure.composition.reduced_formula
    return not any(t.composition.reduced_formula == formula and matcher.fit(structure, t) for t in training)


def success_rates(predicted_ln_tc: Sequence[float], training_ln_tc: Sequence[float]) -> dict[str, float]:
    """DiffCSP-SC's SR10/SR30/SR50: fraction of samples above the 90th/70th/50th percentile of training ln Tc."""
    predicted, training = np.asarray(predicted_ln_tc, float), np.asarray(training_ln_tc, float)
    return {f"SR{a}": float(np.mean(predicted > np.percentile(training, 100 - a))) for a in (10, 30, 50)}
