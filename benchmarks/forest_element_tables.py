"""Which elemental tables should the members' composition statistics read? Extra trees on five more tables.

Usage:
    python benchmarks/forest_element_tables.py --data ../shared/data [--folds 0 1 2] [--threads 2]
    # needs pip install --no-deps elementembeddings (its tables are read as files)

Paper protocol, regime ``all`` (10 folds 8:1:1, ln Tc, MAE in ln K). Every row grows the shipped
``CompositionForestTc`` members' extra trees, ``N_TREES`` of them (:func:`forest_inputs.fit_predict`; the mean of
the trees, no leaf median, so that the rows differ only in their inputs), on the members' rows: the fold's training
and validation structures and every formula-table row at least ``SAME_COMPOUND_DISTANCE`` (atom-fraction L1) from
its test compounds. The first row reads the members' statistics (pymatgen's elemental properties, valence-electron
counts, each element's solid and Magpie's DFT ground state: ``element_properties.py``); every other row adds the
composition statistics (mean, spread, min and max over the composition, as
:func:`~matgl_supercon.models._tc_model.composition_statistics` computes them) of one more table, as the
ElementEmbeddings package ships them (Onwuli et al., Digital Discovery 2, 1558 (2023)):

- **+ Oliynyk**: the 26 columns of Oliynyk et al. (Chem. Mater. 2016) that the other tables lack
  (``OLIYNYK_COLUMNS``: radii, electronegativity scales, metallic valence, thermal properties), read from the
  package's copy: ``CompositionForestTc(oliynyk_descriptors=True)``;
- **+ Oliynyk, all 43 columns**: the same with the 17 columns that repeat the other tables (its atomic number is
  left out here, as from every table);
- **+ XenonPy**: XenonPy's 57 elemental properties (Liu et al.; the atomic number left out);
- **+ MEGNet16**: the 16-dimensional element embedding of a MEGNet formation-energy model (Chen et al. 2019);
- **+ mat2vec** and **+ SkipAtom**: the first 16 principal components of the word2vec embedding of elements in
  materials-science abstracts (Tshitoyan et al., Nature 2019) and of the SkipAtom embedding learned from
  Materials Project structures (Antunes et al. 2022).

A second table grows the members themselves (:func:`matgl_supercon.training.fit_composition_forest` with its
defaults: 45 trees, their mean averaged with the leaf median) on the same rows, without and with Oliynyk's columns:
what the shipped ensemble would gain.

Each table is standardised over the elements H to Lr with missing values at the column median, as
:func:`~matgl_supercon.models._embedding.element_descriptors` treats the package's tables. Each fold's rows go to
``--out/fold_K.json`` as they finish (a rerun skips finished folds, and a fresh ``--out`` starts from the committed
report's folds); the report, with per-family and ordered/disordered MAE over all test predictions, is
``benchmarks/results/forest_element_tables.{json,md}``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import torch
from _report import header_lines, provenance, write_report
from forest_inputs import (
    N_TREES,
    FoldData,
    compared_table,
    finished_folds,
    fit_predict,
    fold_arguments,
    row_range,
    save_fold,
    unfinished_folds,
)
from make_element_table import element_embeddings_file
from pymatgen.core import Element

from matgl_supercon.data import SAME_COMPOUND_DISTANCE
from matgl_supercon.graph import ALL_ELEMENTS
from matgl_supercon.models._tc_model import composition_statistics
from matgl_supercon.training import CompositionForestConfig, fit_composition_forest

RESULTS = Path(__file__).parent / "results"
WITHOUT = "the members' inputs"
OLIYNYK = "+ Oliynyk (`oliynyk_descriptors`)"
#: Row: (ElementEmbeddings file, principal components kept or None for every column).
TABLES = {
    "+ Oliynyk, all 43 columns": ("oliynyk.csv", None),
    "+ XenonPy": ("xenonpy_element_features.csv", None),
    "+ MEGNet16": ("megnet16.json", None),
    "+ mat2vec (16 components)": ("mat2vec.csv", 16),
    "+ SkipAtom (16 components)": ("skipatom_20201009_induced.csv", 16),
}
ROWS = (WITHOUT, OLIYNYK, *TABLES)
MEMBER_ROWS = {"members' forest": False, "members' forest + Oliynyk": True}
#: Columns of the ElementEmbeddings files that are not elemental properties.
NOT_PROPERTIES = ("element", "atomic_number", "Atomic_Number")


def embedding_table(name: str, components: int | None) -> torch.Tensor:
    """``[len(ALL_ELEMENTS), n]`` one ElementEmbeddings table, standardised, missing cells at the column median."""
    path = element_embeddings_file(name)
    if path.suffix == ".json":
        rows = {symbol: [float(v) for v in values] for symbol, values in json.loads(path.read_text()).items()}
    else:
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            keep = [j for j, column in enumerate(header) if j > 0 and column not in NOT_PROPERTIES]
            rows = {row[0]: [float(row[j]) if row[j].strip() else np.nan for j in keep] for row in reader}
    width = len(next(iter(rows.values())))
    table = np.array([rows.get(symbol, [np.nan] * width) for symbol in ALL_ELEMENTS], dtype=np.float64)
    table = np.where(np.isnan(table), np.nanmedian(table, axis=0), table)
    table = (table - table.mean(0)) / np.maximum(table.std(0, ddof=1), 1e-8)
    if components is not None:
        _, _, directions = np.linalg.svd(table - table.mean(0), full_matrices=False)
        table = table @ directions[:components].T
    return torch.from_numpy(table)


def table_statistics(fractions: np.ndarray, table: torch.Tensor) -> np.ndarray:
    """Mean, spread, min and max of a table over each composition (``atom_fractions`` rows, by atomic number)."""
    columns = [Element(symbol).Z for symbol in ALL_ELEMENTS]
    occupancy = torch.from_numpy(fractions[:, columns])
    n = len(fractions)
    statistics = composition_statistics(occupancy, torch.zeros(n, dtype=torch.float64), table, torch.arange(n), n)
    return statistics[:, :-2].numpy()  # the site mixing and vacancy columns are the members' already


def main() -> None:
    args = fold_arguments(__doc__, "runs/forest_element_tables")
    data = FoldData.load(args.data)
    records, y = data.records, data.y
    without_x, without_formula_x = data.member_statistics(oliynyk_descriptors=False)
    oliynyk_x, oliynyk_formula_x = data.member_statistics(oliynyk_descriptors=True)
    fractions, formula_fractions = data.fractions, data.formula_fractions
    inputs = {WITHOUT: (without_x, without_formula_x), OLIYNYK: (oliynyk_x, oliynyk_formula_x)}
    for name, (file, components) in TABLES.items():
        table = embedding_table(file, components)
        extra, formula_extra = table_statistics(fractions, table), table_statistics(formula_fractions, table)
        inputs[name] = (np.hstack([without_x, extra]), np.hstack([without_formula_x, formula_extra]))
    out = Path(args.out)
    report = RESULTS / "forest_element_tables.json"
    for k, path, train, val, test in unfinished_folds(data, args.folds, out, report, (*ROWS, *MEMBER_ROWS)):
        fit, rows = data.member_rows(train, val, test)
        target = np.concatenate([y[fit], data.formula_y[rows]])
        predictions = {
            name: fit_predict(np.vstack([x[fit], formula_x[rows]]), target, x[test], k, args.threads)[0]
            for name, (x, formula_x) in inputs.items()
        }
        for name, oliynyk in MEMBER_ROWS.items():
            x, formula_x = inputs[OLIYNYK if oliynyk else WITHOUT]
            config = CompositionForestConfig(seed=k, n_jobs=args.threads)
            extra = (formula_x[rows], data.formula_y[rows])
            member, _ = fit_composition_forest((x[fit], y[fit]), {"oliynyk_descriptors": oliynyk}, config, extra=extra)
            predictions[name] = member.predict_statistics(x[test]).numpy().astype(np.float64)
        save_fold(path, [data.ids[i] for i in test], len(rows), y[test], predictions, k)
    per_fold = finished_folds(out)
    summary, table = compared_table(per_fold, records, y, ROWS, "inputs")
    member_summary, member_table = compared_table(per_fold, records, y, list(MEMBER_ROWS), "forest")
    meta = provenance("python benchmarks/forest_element_tables.py --data ../shared/data", f"{args.threads} jobs")
    widths = ", ".join(f"{name} {x.shape[1]}" for name, (x, _) in inputs.items())
    lines = [
        *header_lines("Elemental tables for the members' composition statistics (SuperCon3D all/all)", meta),
        f"{len(per_fold)} folds; {N_TREES} extra trees with the members' settings (the mean of the trees) on each "
        f"fold's training and validation structures and its {row_range(per_fold, 'formula_rows')} formula rows at "
        f"least {SAME_COMPOUND_DISTANCE} (atom-fraction L1) from its test compounds. Statistics per row: {widths}. "
        "Family and order columns: MAE ln K over every fold's test structures. The last column counts the folds on "
        "which the row's MAE is below the first row's.",
        "",
        *table,
        "",
        f"The members' forests ({CompositionForestConfig().n_estimators} trees, their mean averaged with the leaf "
        "median), grown on the same rows; the last column counts the folds on which the row's MAE is below the "
        "first row's:",
        "",
        *member_table,
    ]
    summary.update(member_summary)
    write_report(RESULTS / "forest_element_tables", {"meta": meta, "summary": summary, "folds": per_fold}, lines)


if __name__ == "__main__":
    main()
