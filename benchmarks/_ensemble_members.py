"""The shipped ``SODNet-SuperCon3D`` ensemble's configurations and their held-out predictions.

A configuration is one kind of fold model trained ten times (one per SuperCon3D paper fold): a
``sodnet_variants.py`` SODNet configuration, or the composition members that ``composition_retrieval.py`` and
``composition_forest.py`` save. Every SuperCon3D structure is in the test block of one fold, so each configuration
has one held-out prediction for it (its per-fold results files), which ``_ensemble_blend.py`` weighs and
``_ensemble_calibration.py`` calibrates; ``make_pretrained.py`` packages the members.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from composition_forest import SHIPPED_VARIANT as FOREST_VARIANT
from composition_retrieval import MEMBER_VARIANTS, member_results_dir, member_runs_dir
from sodnet_forest_state import RESULTS_DIR as FOREST_STATE_RESULTS
from sodnet_forest_state import RUNS_DIR as FOREST_STATE_RUNS
from sodnet_forest_state import VARIANT as FOREST_STATE_VARIANT
from sodnet_variants import SHIPPED_SODNET, results_dir, runs_dir

from matgl_supercon.data import SuperconRecord, load_supercon3d
from matgl_supercon.pretrained import load_model

#: Member folder prefixes that differ from ``<variant>_``: the shipped ensemble's first configuration was the
#: package default when it was built and its members are ``fold_<k>``.
MEMBER_PREFIX = {"blocks2_composition": ""}
#: Composition members shipped beside the SODNet configurations: the ``CompositionForestTc`` fold forests that
#: ``composition_forest.py --save-members`` saved (their per-fold results under ``results/composition_members``). Their
#: errors differ from SODNet's, and the kinds blended predict better than either. Until 2026-12-07 the ``CompositionTc``
#: fold networks of ``composition_retrieval.py --save-members`` (``MEMBER_VARIANTS["distinct_memory"]``, 23 MB) were
#: shipped too; their weight had fallen to 0 except for 0.10 where the trees disagree most, and without them the
#: held-out score is 0.496 ln K against 0.497 (R2 0.768 both) at 45 MB instead of 68 (the size then went to forests of
#: 45 trees instead of 30: 0.491 at 45.4 MB with 6 bytes per tree node). The forests' own spread (the variance over
#: their trees) calibrates their subset without a second composition configuration.
SHIPPED_COMPOSITION_MEMBERS = (FOREST_VARIANT,)
#: SODNet configurations shipped beside ``sodnet_variants.SHIPPED_SODNET`` that ``sodnet_variants.py`` does not train:
#: since 2026-12-07 the SODNet of ``sodnet_forest_state.py``, which reads the forest members' mean ln Tc as its state
#: (``TcEnsemble``); beside the default it lowers the held-out MAE from 0.4805 to 0.4775 ln K (8 of 10 folds).
SHIPPED_STATE_READERS = (FOREST_STATE_VARIANT,)
#: Every configuration of the shipped ensemble but the low-Tc group, in the order of its member folders' weights.
SHIPPED_CONFIGURATIONS = (*SHIPPED_SODNET, *SHIPPED_STATE_READERS, *SHIPPED_COMPOSITION_MEMBERS)
#: The fold forests that ``low_tc_gate.py --save-members`` saves: grown also on the formula table's non-superconductors
#: at a floor Tc, they take a share of the shipped ensemble's prediction where they read cold (``LowTcGate``) and
#: weigh nothing elsewhere.
LOW_TC_VARIANT = "composition_forest_non_superconductors"
SHIPPED_LOW_TC_MEMBERS = (LOW_TC_VARIANT,)
#: Member kinds, in the order of their weights in ``calibration.json``.
KINDS = ("SODNet", "CompositionTc", "CompositionForestTc")


def kind(name: str) -> str:
    """The model kind of a configuration: one of ``KINDS``."""
    if name.startswith("composition_forest"):  # FOREST_VARIANT, and the forests shipped before it
        return "CompositionForestTc"
    return "CompositionTc" if name in MEMBER_VARIANTS.values() else "SODNet"


def is_composition(name: str) -> bool:
    """Whether a configuration is a composition member (``composition_retrieval.py``, ``composition_forest.py``)."""
    return kind(name) != "SODNet"


def member_dirs(name: str) -> tuple[Path, Path]:
    """Where a configuration's per-fold test results and its trained fold models live."""
    if is_composition(name):
        return member_results_dir(name), member_runs_dir(name)
    if name == FOREST_STATE_VARIANT:
        return FOREST_STATE_RESULTS, FOREST_STATE_RUNS
    return results_dir(name), runs_dir(name)


@dataclass(frozen=True)
class Configuration:
    """Where one configuration's fold models and per-fold test results are, and its members' folder prefix."""

    results: Path
    prefix: str
    models: Path
    shipped: bool  # models are a shipped ensemble's <prefix>fold_<k>/, not training runs' fold_<k>/model/

    def model(self, fold: str) -> Path:
        """The MatGL model folder of one fold (``fold`` is ``"fold_<k>"``)."""
        return self.models / f"{self.prefix}{fold}" if self.shipped else self.models / fold / "model"


def configurations(
    variants: list[str], shipped: Path | None = None, from_runs: Sequence[str] = ()
) -> dict[str, Configuration]:
    """Each configuration, in the given order.

    Its models come from the ensemble folder ``shipped`` when given and that folder holds members of it, else from
    its training runs (so a configuration can be added to a shipped ensemble whose other runs are gone). The
    configurations in ``from_runs`` always come from their runs: retrained, their shipped members are out of date.
    """
    found = {}
    for name in variants:
        results, runs = (folder / "all" for folder in member_dirs(name))
        if not results.is_dir():
            script = {"SODNet": "sodnet_variants.py", "CompositionTc": "composition_retrieval.py --save-members"}.get(
                kind(name), "composition_forest.py --save-members"
            )
            if name == FOREST_STATE_VARIANT:
                script = "sodnet_forest_state.py"
            raise SystemExit(f"variant {name!r}: no results under {results}; run benchmarks/{script} first")
        prefix = MEMBER_PREFIX.get(name, f"{name}_")
        if shipped is not None and name not in from_runs and any(shipped.glob(f"{prefix}fold_*/model.json")):
            found[name] = Configuration(results, prefix, shipped, True)
        else:
            found[name] = Configuration(results, prefix, runs, False)
    return found


def held_out_results(
    configs: dict[str, Configuration], folds: Sequence[str]
) -> dict[str, tuple[float, int, dict[str, float]]]:
    """Structure id -> (its ln Tc, the fold that tested it, each configuration's prediction), from the
    configurations' per-fold results files (``fold_<k>.json``); the ``held_out`` of :func:`blend`."""
    held_out: dict[str, tuple[float, int, dict[str, float]]] = {}
    for name, config in configs.items():
        for fold in folds:
            result = json.loads((config.results / f"{fold}.json").read_text())
            for i, truth, pred in zip(result["ids"], result["y_true"], result["y_pred"], strict=True):
                held_out.setdefault(i, (truth, int(fold.split("_")[1]), {}))[2][name] = pred
    return held_out


def records_by_id(data: str | None) -> dict[str, SuperconRecord]:
    """SuperCon3D's records by id, read once for every step of a build that needs the structures (about 9 s)."""
    return {r.id: r for r in load_supercon3d(data)}


def held_out_tree_variance(
    configs: dict[str, Configuration],
    folds: list[str],
    held_out: dict[str, tuple[float, int, dict[str, float]]],
    records: Mapping[str, SuperconRecord],
) -> dict[str, dict[str, float]]:
    """Structure id -> {forest configuration: the variance over its trees of the fold member that tested on it}.

    Each ``CompositionForestTc`` fold member predicts its test block again (``records``: SuperCon3D by id, from
    :func:`records_by_id`); its mean must be the prediction its results file holds (the member is the one that was
    scored), or this stops.
    """
    variance: dict[str, dict[str, float]] = {}
    for name, config in configs.items():
        if kind(name) != "CompositionForestTc":
            continue
        for fold in folds:
            ids = [i for i, (_, k, _) in held_out.items() if k == int(fold.split("_")[1])]
            member = load_model(config.model(fold))
            # SuperCon3D as published: 5 CIFs hold overlapping atoms (load_supercon3d's docstring).
            graphs = member.graphs([records[i].structure for i in ids], allow_overlaps=True)
            mean, own = next(member.members()).predict_graphs_and_variance(graphs)
            recorded = np.array([held_out[i][2][name] for i in ids])
            if not np.allclose(mean.numpy(), recorded, atol=1e-4):
                raise SystemExit(f"{config.model(fold)}: its test predictions differ from its results file's")
            for i, v in zip(ids, own.tolist(), strict=True):
                variance.setdefault(i, {})[name] = v
    return variance


def held_out_tree_sd(tree_variance: dict[str, dict[str, float]]) -> dict[str, float]:
    """Structure id -> what the gate reads (:class:`~matgl_supercon.models.ForestSpreadGate`): the square root of
    its forest members' mean variance over their trees, from :func:`held_out_tree_variance`."""
    return {i: float(np.sqrt(np.mean(list(v.values())))) for i, v in tree_variance.items()}


@dataclass(frozen=True)
class LowTcGroup:
    """The ``LowTcGate``'s group of configurations and their held-out predictions and tree variances."""

    configs: dict[str, Configuration]
    held_out: dict[str, tuple[float, int, dict[str, float]]]  # as :func:`held_out_results` gives them
    tree_variance: dict[str, dict[str, float]]  # as :func:`held_out_tree_variance` gives them

    @classmethod
    def load(
        cls, configs: dict[str, Configuration], folds: list[str], records: Mapping[str, SuperconRecord]
    ) -> LowTcGroup:
        """The group's held-out predictions (its results files) and tree variances (its fold forests rerun)."""
        held_out = held_out_results(configs, folds)
        return cls(configs, held_out, held_out_tree_variance(configs, folds, held_out, records))

    def joined(
        self, predictions: dict[str, dict[str, float]], own_variance: dict[str, dict[str, float]]
    ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
        """Each structure's configuration predictions and own variances with the group's beside them."""
        joined = {i: {**p, **self.held_out[i][2]} for i, p in predictions.items()}
        variance = {i: {**own_variance.get(i, {}), **self.tree_variance.get(i, {})} for i in predictions}
        return joined, variance
