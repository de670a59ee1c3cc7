"""Which elemental properties should the composition statistics hold? Extra trees on five descriptor tables.

Usage:
    python benchmarks/element_properties.py --data ../shared/data [--folds 0 1 2] [--threads 2]

Paper protocol, regime ``all`` (10 folds 8:1:1, ln Tc, MAE in ln K). Every row grows the same forest as
``forest_inputs.py``'s first row (the ``CompositionForestTc`` members' settings with 200 trees, on the fold's training
structures and the formula-table rows of every chemical system outside its validation and test blocks) on the
composition statistics (:func:`matgl_supercon.models._tc_model.composition_statistics`: mean, spread, min and max
over the composition) of one elemental descriptor table:

- **until 2026-12-06**: the 11 pymatgen properties, the 10 valence-electron counts and the s/p/d/f block, as
  ``CompositionForestTc(solid_descriptors=False, ground_state_descriptors=False)``;
- **+ solid**: also the properties of each element's solid that pymatgen lists (log resistivity, superconducting Tc,
  metallic radius, bulk modulus: ``SOLID_PROPERTIES``);
- **+ solid without the elemental Tc**: what the elements' own Tc adds;
- **+ Magpie ground state**: instead of the solid columns, Magpie's DFT ground-state columns (OQMD volume per atom,
  band gap and magnetic moment, the ground state's space group number) and covalent radius (Ward et al., npj Comput.
  Mater. 2016): the columns by which matminer's Magpie features beat the statistics here, read from the package's
  copy (``GROUND_STATE_TABLE``, written from matminer by ``make_element_table.py``);
- **+ solid + Magpie ground state**: both, the ``CompositionForestTc`` default since 2026-12-06.

Each fold's rows go to ``--out/fold_K.json`` as they finish (a rerun skips finished folds); the report, with
per-family and ordered/disordered MAE over all test predictions, is ``benchmarks/results/element_properties.{json,md}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from _report import header_lines, provenance, write_report
from forest_inputs import FoldData, compared_table, finished_folds, fit_predict, fold_arguments, row_range, save_fold
from torch_geometric.data import Batch

from matgl_supercon.data import (
    outside_chemical_systems,
)
from matgl_supercon.graph import ALL_ELEMENTS
from matgl_supercon.models import CompositionForestTc
from matgl_supercon.models._embedding import ELEMENT_PROPERTIES, SOLID_PROPERTIES, VALENCE_COLUMNS, element_descriptors
from matgl_supercon.models._tc_model import composition_statistics

RESULTS = Path(__file__).parent / "results"
#: Row name: (add the solid columns, keep the elemental Tc column, add Magpie's ground-state columns).
ROWS = {
    "until 2026-12-06": (False, True, False),
    "+ solid": (True, True, False),
    "+ solid without the elemental Tc": (True, False, False),
    "+ Magpie ground state": (False, True, True),
    "+ solid + Magpie ground state": (True, True, True),
}


def descriptor_table(solid: bool, elemental_tc: bool, ground_state: bool) -> torch.Tensor:
    """One row's elemental descriptor table (``element_descriptors`` with valence counts and the row's options)."""
    table = element_descriptors(tuple(ALL_ELEMENTS), valence=True, solid=solid, ground_state=ground_state)
    if not elemental_tc:
        first_solid = len(ELEMENT_PROPERTIES) + VALENCE_COLUMNS
        tc_column = first_solid + SOLID_PROPERTIES.index("Superconduction temperature")
        table = torch.cat([table[:, :tc_column], table[:, tc_column + 1 :]], 1)
    return table


def statistics(batch: Batch, table: torch.Tensor) -> np.ndarray:
    """``[n_graphs, n_statistics]`` composition statistics of a batch of graphs for one descriptor table."""
    x = composition_statistics(batch.occupancy, batch.vacancy, table, batch.batch, batch.num_graphs)
    return x.numpy().astype(np.float64)


def main() -> None:
    args = fold_arguments(__doc__, "runs/element_properties")
    data = FoldData.load(args.data)
    records, ids, y, folds = data.records, data.ids, data.y, data.folds
    formulas, formula_y, formula_systems = data.formulas, data.formula_y, data.formula_systems
    template = CompositionForestTc()  # its converter; the statistics read occupancies only
    graphs = {
        "supercon3d": template.make_converter(allow_isolated=True, allow_overlaps=True),  # SuperCon3D as published
        "formulas": template.make_converter(allow_isolated=True),
    }
    batches = {
        name: Batch.from_data_list([converter.get_graph(r.structure)[0] for r in rows])
        for (name, converter), rows in zip(graphs.items(), (records, formulas), strict=True)
    }
    tables = {name: descriptor_table(*options) for name, options in ROWS.items()}
    features = {
        name: (statistics(batches["supercon3d"], t), statistics(batches["formulas"], t)) for name, t in tables.items()
    }
    out = Path(args.out)
    for k in args.folds:
        path = out / f"fold_{k}.json"
        if path.exists():
            continue
        train, val, test = (np.asarray(block) for block in folds[k])
        rows = np.asarray(outside_chemical_systems(formula_systems, [records[i] for i in (*val, *test)]))
        y_train = np.concatenate([y[train], formula_y[rows]])
        predictions = {
            name: fit_predict(np.vstack([x[train], formula_x[rows]]), y_train, x[test], seed=k, threads=args.threads)[0]
            for name, (x, formula_x) in features.items()
        }
        save_fold(path, [ids[i] for i in test], len(rows), y[test], predictions, k)
    per_fold = finished_folds(out)
    widths = {name: tables[name].shape[1] for name in ROWS}
    summary, table = compared_table(
        per_fold, records, y, ROWS, "elemental descriptors", {"descriptors": {n: str(w) for n, w in widths.items()}}
    )
    for name in ROWS:
        summary[name]["descriptors"] = widths[name]
    meta = provenance("python benchmarks/element_properties.py --data ../shared/data", f"{args.threads} jobs")
    lines = [
        *header_lines("Which elemental properties the composition statistics should hold (SuperCon3D all/all)", meta),
        f"{len(per_fold)} folds; 200 extra trees, leaves of at least 2 rows, half the features per split, on the "
        "composition statistics (mean, spread, min, max and two site means) of each descriptor table, with per fold "
        f"{row_range(per_fold, 'formula_rows')} formula rows. Family and order columns: MAE ln K over every fold's "
        "test structures. The last column counts the folds on which the row's MAE is below the first row's.",
        "",
        *table,
    ]
    write_report(RESULTS / "element_properties", {"meta": meta, "summary": summary, "folds": per_fold}, lines)


if __name__ == "__main__":
    main()
