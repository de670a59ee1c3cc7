"""What helps the best composition learner? Extra trees with geometry descriptors, or with computed Tc rows.

Usage:
    python benchmarks/forest_inputs.py --data ../shared/data [--folds 0 1 2] [--threads 2]

Paper protocol, regime ``all`` (10 folds 8:1:1, ln Tc, MAE in ln K). The learner is the shipped
``CompositionForestTc`` members' (extra trees, leaves of at least 2 rows, half the features tried per split) with
200 trees instead of 30, so that a difference of a few thousandths is not the trees' seed. Inputs, row by row:

- the composition statistics SODNet's readout reads (valence counts included), with the formula-only SuperCon rows
  of every chemical system outside the fold's validation and test blocks (the members' inputs until 2026-12-06,
  when they gained each element's solid and DFT ground-state columns: ``element_properties.py``);
- the same beside the 16 cell and neighbour descriptors of the ``-geo`` baselines
  (:func:`matgl_supercon.benchmarks.geometry_features`: atoms per volume, density, nearest-neighbour distances,
  coordination, lattice ratios and angles, vacant and mixed site fractions). Formula rows have no structure: their
  descriptors are missing (NaN), which scikit-learn's trees route at every split to the side that fits best;
- the members' inputs plus the JARVIS-DFT electron-phonon Tc structures (Tc > 0.1 K, outside the fold's validation
  and test chemical systems), with a column that marks a computed Tc (0 on every other row, and on the test rows);
- both feature sets again without the formula table.

Each fold's rows go to ``--out/fold_K.json`` as they finish (a rerun skips finished folds); the report, with
per-family and ordered/disordered MAE over all test predictions, is ``benchmarks/results/forest_inputs.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from _report import header_lines, provenance, write_report
from composition_forest import formula_rows
from composition_mlp import supercon3d_statistics
from composition_retrieval import records_statistics
from supercon3d_sodnet import regime_members

from matgl_supercon.benchmarks import fold_summary, geometry_features, grouped_mae, mae, r2
from matgl_supercon.data import (
    atom_fractions,
    chemical_system,
    extra_training_records,
    held_out_extra_rows,
    load_jarvis_tc,
    load_supercon3d,
    outside_chemical_systems,
    paper_folds,
)
from matgl_supercon.graph import classify_disorder
from matgl_supercon.training import CompositionForestConfig, write_json_atomic

RESULTS = Path(__file__).parent / "results"
#: Row name: (geometry descriptors, extra training sets).
ROWS = {
    "composition + formula table": (False, ("formulas",)),
    "composition + geometry + formula table": (True, ("formulas",)),
    "composition + formula table + JARVIS-DFT Tc": (False, ("formulas", "jarvis")),
    "composition": (False, ()),
    "composition + geometry": (True, ()),
}
#: JARVIS-DFT rows below this Tc (K) are left out: its table holds many zeros and near-zero estimates.
JARVIS_MIN_TC = 0.1
N_TREES = 200
#: SuperCon3D's ``order`` labels, as the table's columns say them.
ORDER_COLUMNS = (("order", "ordered"), ("disorder", "disordered"))


def fit_predict(
    x: np.ndarray,
    y: np.ndarray,
    x_test: np.ndarray,
    seed: int,
    threads: int,
    max_features: float | None = None,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Test predictions and node count of the members' extra trees (``N_TREES`` of them) grown on ``(x, y)``.

    ``max_features`` (default: the members') and ``sample_weight`` (default: none) change one setting each.
    """
    from sklearn.ensemble import ExtraTreesRegressor

    members = CompositionForestConfig()  # the shipped members' settings, but N_TREES trees
    forest = ExtraTreesRegressor(
        n_estimators=N_TREES,
        min_samples_leaf=members.min_samples_leaf,
        max_features=members.max_features if max_features is None else max_features,
        random_state=seed,
        n_jobs=threads,
    ).fit(x, y, sample_weight=sample_weight)
    return forest.predict(x_test), sum(t.tree_.node_count for t in forest.estimators_)


def row_range(per_fold: dict, key: str) -> str:
    """``"min-max"`` of a per-fold count."""
    counts = [f[key] for f in per_fold.values()]
    return f"{min(counts):,}-{max(counts):,}"


def table_row(name: str, summary: dict, families: list[str]) -> str:
    """One markdown row: fold mean ± sd, R2, then the MAE of the ordered, disordered and each family's structures."""
    orders = [summary["order"][key] for key, _ in ORDER_COLUMNS if key in summary["order"]]  # none: ordered only
    groups = [*orders, *(summary["family"][f] for f in families)]
    cells = [f"{summary['mae_mean']:.3f} ± {summary['mae_sd']:.3f}", f"{summary['r2_mean']:.3f}"]
    return f"| {name} | " + " | ".join(cells + [f"{g['mae']:.3f}" for g in groups]) + " |"


def restore_committed_folds(out: Path, report: Path) -> None:
    """Write the folds of a committed report (``report``, its ``folds``) to ``out`` where ``out`` lacks them, so
    that a run on a fresh clone starts from the committed folds instead of recomputing them."""
    if not report.exists():
        return
    for k, fold in json.loads(report.read_text())["folds"].items():
        if not (out / f"fold_{k}.json").exists():
            write_json_atomic(out / f"fold_{k}.json", fold)


def unfinished_folds(
    data: FoldData, folds: Sequence[int], out: Path, report: Path, rows: Sequence[str] = ()
) -> Iterator[tuple[int, Path, np.ndarray, np.ndarray, np.ndarray]]:
    """The folds among ``folds`` with no result under ``out`` yet, after :func:`restore_committed_folds` from the
    committed ``report``: each as its number, the path its result goes to and its train, validation and test
    indices. A fold whose result lacks one of ``rows`` (a row added to the script since) is run again."""
    restore_committed_folds(out, report)
    for k in folds:
        path = out / f"fold_{k}.json"
        if not path.exists() or not set(rows) <= json.loads(path.read_text()).keys():
            yield k, path, *(np.asarray(block) for block in data.folds[k])


def finished_folds(out: Path) -> dict[int, dict]:
    """The per-fold results written so far under ``out`` (``fold_K.json``), by fold."""
    return {k: json.loads((out / f"fold_{k}.json").read_text()) for k in range(10) if (out / f"fold_{k}.json").exists()}


def summarise(per_fold: dict[int, dict], records: list, y: np.ndarray, rows: Sequence[str]) -> dict[str, dict]:
    """Per row: fold mean ± sd of MAE and R2, and the MAE per family and per ordered / disordered over every fold's
    test structures (``y_pred`` of each fold, in the order of its ``ids``)."""
    position = {record.id: i for i, record in enumerate(records)}
    tested = [position[i] for f in per_fold.values() for i in f["ids"]]
    family = [records[i].metadata["family"] for i in tested]
    order = [records[i].metadata["order"] for i in tested]
    summary = {}
    for name in rows:
        p = np.concatenate([f[name]["y_pred"] for f in per_fold.values()])
        summary[name] = {
            "folds": list(per_fold),
            **fold_summary([{m: f[name][m] for m in ("mae", "r2")} for f in per_fold.values()]),
            "family": grouped_mae(y[tested], p, family),
            "order": grouped_mae(y[tested], p, order),
        }
    return summary


def table_header(first: str, summary: dict[str, dict], extra: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """The markdown header lines of a :func:`table_row` table, and its family columns (the same in every row)."""
    any_row = next(iter(summary.values()))
    families = sorted(any_row["family"])
    groups = [
        *((label, any_row["order"][key]["n"]) for key, label in ORDER_COLUMNS if key in any_row["order"]),
        *((f, any_row["family"][f]["n"]) for f in families),
    ]
    names = [f"{g} ({n})" for g, n in groups] + list(extra)
    return [f"| {first} | MAE ln K | R2 | " + " | ".join(names) + " |", "|---|---|---|" + "---|" * len(names)], families


@dataclass(frozen=True)
class FoldData:
    """SuperCon3D with its paper folds, and the formula table the forests train beside it."""

    records: list
    ids: list[str]
    y: np.ndarray  # ln Tc
    folds: list
    formulas: list
    formula_y: np.ndarray
    formula_systems: list[frozenset[str]]

    @classmethod
    def load(cls, data: str | None) -> FoldData:
        """Read both from ``data`` (default: ``$MATGL_SUPERCON_DATA``)."""
        records = load_supercon3d(data)
        ids = [r.id for r in records]
        formulas = extra_training_records("formulas_new_systems", [], data)
        return cls(
            records,
            ids,
            np.log([r.tc for r in records]),
            paper_folds(ids),
            formulas,
            np.log([r.tc for r in formulas]),
            [chemical_system(r.structure) for r in formulas],
        )

    @cached_property
    def disorder(self) -> list[str]:
        """Each record's disorder type (:func:`~matgl_supercon.graph.classify_disorder`, worked out once)."""
        return [classify_disorder(r.structure)[0] for r in self.records]

    @cached_property
    def fractions(self) -> np.ndarray:
        """:func:`~matgl_supercon.data.atom_fractions` of ``records`` (worked out once, on first use)."""
        return atom_fractions(self.records)

    @cached_property
    def formula_fractions(self) -> np.ndarray:
        """:func:`~matgl_supercon.data.atom_fractions` of ``formulas`` (worked out once, on first use)."""
        return atom_fractions(self.formulas)

    def regime_folds(self, regime: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The paper folds of one regime of ``supercon3d_sodnet.py`` (``all``, ``O``, ``O+SD``): its structures' ids
        cut as that script cuts them, as (train, val, test) indices into ``records``."""
        if regime == "all":
            return [tuple(np.asarray(b) for b in fold) for fold in self.folds]
        members = regime_members(regime, self.disorder)
        return [tuple(members[np.asarray(b)] for b in fold) for fold in paper_folds([self.ids[i] for i in members])]

    def member_rows(self, train: np.ndarray, val: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows a fold's shipped ``CompositionForestTc`` member grows on: the SuperCon3D indices of its training
        and validation blocks, and the formula-table rows at least ``SAME_COMPOUND_DISTANCE`` from its test
        compounds (the ``compound`` scope of :func:`~matgl_supercon.data.held_out_extra_rows`).

        Args:
            train: The fold's training indices.
            val: Its validation indices.
            test: Its test indices.
        """
        held_out = [self.records[i] for i in test]
        rows = held_out_extra_rows(self.formula_systems, self.formula_fractions, held_out, "compound")
        return np.concatenate([train, val]), np.asarray(rows)

    def member_statistics(self, **model_kwargs: bool) -> tuple[np.ndarray, np.ndarray]:
        """Float64 composition statistics of the structures and of the formula rows, as the shipped
        ``CompositionForestTc`` members read them (its default descriptor table; ``model_kwargs`` change its
        descriptor options)."""
        from matgl_supercon.models import CompositionForestTc

        members = CompositionForestTc(**model_kwargs)
        # SuperCon3D as published: 5 CIFs hold overlapping atoms (load_supercon3d's docstring).
        x = members.structure_composition_statistics([r.structure for r in self.records], allow_overlaps=True)
        formula_x = members.structure_composition_statistics([r.structure for r in self.formulas])
        return x.numpy().astype(np.float64), formula_x.numpy().astype(np.float64)


def scored(truth: np.ndarray, prediction: np.ndarray, k: int, name: str) -> dict:
    """One row's result on fold ``k`` (MAE, R2 and its test predictions); its MAE is printed as it finishes."""
    row = {"mae": mae(truth, prediction), "r2": r2(truth, prediction), "y_pred": prediction.tolist()}
    print(f"fold {k} {name}: {row['mae']:.3f} ln K", flush=True)
    return row


def save_fold(
    path: Path,
    ids: list[str],
    formula_rows: int,
    truth: np.ndarray,
    predictions: dict,
    k: int,
    **counts: float | dict[str, int],
) -> None:
    """Write one fold's result: its test ids, its count of formula rows (and of any other rows it trained on, named
    in ``counts``) and each row's :func:`scored` predictions."""
    rows = {name: scored(truth, p, k, name) for name, p in predictions.items()}
    write_json_atomic(path, {"ids": ids, "formula_rows": formula_rows, **counts, **rows})


def compared_table(
    per_fold: dict[int, dict],
    records: list,
    y: np.ndarray,
    rows: Sequence[str],
    first: str,
    extra: dict[str, dict[str, str]] | None = None,
) -> tuple[dict[str, dict], list[str]]:
    """Each row's :func:`summarise` with ``better_folds`` (the folds on which its MAE is below the first row's), and
    the markdown table whose last column counts them.

    Args:
        per_fold: The finished folds' results.
        records: SuperCon3D's records.
        y: Their ln Tc.
        rows: The row names, the reference first.
        first: The table's first column header.
        extra: Column header -> each row's cell, for columns before the last.
    """
    summary = summarise(per_fold, records, y, rows)
    reference = next(iter(rows))
    for name in rows:
        summary[name]["better_folds"] = sum(f[name]["mae"] < f[reference]["mae"] for f in per_fold.values())
    extra = extra or {}
    header, families = table_header(first, summary, [*extra, "folds better"])
    lines = [
        f"{table_row(n, s, families)} "
        + "".join(f"{cells[n]} | " for cells in extra.values())
        + f"{s['better_folds']} of {len(per_fold)} |"
        for n, s in summary.items()
    ]
    return summary, [*header, *lines]


def training_set(
    sources: dict[str, dict], rows: dict[str, np.ndarray], with_geometry: bool, flag_computed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Stack the chosen rows of each source: statistics, geometry descriptors (NaN where a source has none) and,
    with ``flag_computed``, the computed-Tc column."""
    x, y = [], []
    width = sources["supercon3d"]["geometry"].shape[1]
    for name, chosen in rows.items():
        source = sources[name]
        parts = [source["statistics"][chosen]]
        if with_geometry:
            geometry = source["geometry"]
            parts.append(geometry[chosen] if geometry is not None else np.full((len(chosen), width), np.nan))
        if flag_computed:
            parts.append(np.full((len(chosen), 1), float(source["computed"])))
        x.append(np.hstack(parts))
        y.append(source["ln_tc"][chosen])
    return np.vstack(x), np.concatenate(y)


def fold_arguments(doc: str, out: str, save_members: str | None = None) -> argparse.Namespace:
    """The command line of the forest scripts: ``--data``, ``--folds`` (default all 10), ``--out``, ``--threads``.

    Args:
        doc: The script's docstring (its first line describes the command).
        out: Default ``--out`` folder for the per-fold results.
        save_members: When given, a ``--save-members`` flag with this help text.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", nargs="*", type=int, default=list(range(10)))
    parser.add_argument("--out", default=out)
    parser.add_argument("--threads", type=int, default=2)
    if save_members is not None:
        parser.add_argument("--save-members", action="store_true", help=save_members)
    return parser.parse_args()


def main() -> None:
    args = fold_arguments(__doc__, "runs/forest_inputs")
    records = load_supercon3d(args.data)
    ids, y, statistics, folds = supercon3d_statistics(args.data, records)
    formula_x, formula_y, formula_systems = formula_rows(args.data)
    jarvis = [r for r in load_jarvis_tc(args.data) if r.tc > JARVIS_MIN_TC]
    jarvis_x, jarvis_y = records_statistics(jarvis)
    sources = {
        "supercon3d": {
            "statistics": statistics,
            "geometry": geometry_features([r.structure for r in records]),
            "ln_tc": y,
            "computed": False,
        },
        "formulas": {
            "statistics": formula_x,
            "geometry": None,
            "ln_tc": formula_y,
            "systems": formula_systems,
            "computed": False,
        },
        "jarvis": {
            "statistics": jarvis_x,
            "geometry": geometry_features([r.structure for r in jarvis]),
            "ln_tc": jarvis_y,
            "systems": [chemical_system(r.structure) for r in jarvis],
            "computed": True,
        },
    }
    out = Path(args.out)
    for k in args.folds:
        path = out / f"fold_{k}.json"
        if path.exists():
            continue
        train, val, test = folds[k]
        held_out = [records[i] for i in (*val, *test)]
        extra_rows = {
            n: np.asarray(outside_chemical_systems(sources[n]["systems"], held_out)) for n in ("formulas", "jarvis")
        }
        result = {"ids": [ids[i] for i in test], **{f"{n}_rows": len(r) for n, r in extra_rows.items()}}
        for name, (with_geometry, extras) in ROWS.items():
            flag = "jarvis" in extras
            chosen = {"supercon3d": np.asarray(train), **{n: extra_rows[n] for n in extras}}
            x_train, y_train = training_set(sources, chosen, with_geometry, flag)
            x_test, _ = training_set(sources, {"supercon3d": np.asarray(test)}, with_geometry, flag)
            p, nodes = fit_predict(x_train, y_train, x_test, seed=k, threads=args.threads)
            result[name] = {**scored(y[test], p, k, name), "nodes": nodes}
        write_json_atomic(path, result)
    per_fold = finished_folds(out)
    summary = summarise(per_fold, records, y, ROWS)
    header, families = table_header("features", summary)
    widths = f"{statistics.shape[1]} composition statistics, {sources['supercon3d']['geometry'].shape[1]} geometry"
    meta = provenance("python benchmarks/forest_inputs.py --data ../shared/data", f"{args.threads} jobs")
    lines = [
        *header_lines(
            "What helps the members' extra trees: geometry descriptors, computed Tc (SuperCon3D all/all)", meta
        ),
        f"{len(per_fold)} folds; {N_TREES} extra trees, leaves of at least 2 rows, half the features per split; "
        f"{widths} descriptors (missing on the formula rows); "
        f"per fold {row_range(per_fold, 'formulas_rows')} formula rows, {row_range(per_fold, 'jarvis_rows')} "
        f"JARVIS-DFT rows (Tc > {JARVIS_MIN_TC} K). Family and order columns: MAE ln K over every fold's test "
        "structures.",
        "",
        *header,
        *(table_row(n, s, families) for n, s in summary.items()),
    ]
    write_report(RESULTS / "forest_inputs", {"meta": meta, "summary": summary, "folds": per_fold}, lines)


if __name__ == "__main__":
    main()
