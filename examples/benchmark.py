"""Score your own Tc model on a Matbench-style task and write Matbench's results file (under a minute on a CPU).

Run from the repository root:  python examples/benchmark.py [TASK] [DATA] [OUT]
(defaults: ``supercon3d_tc``, the datasets at ``$MATGL_SUPERCON_DATA``, ``results.json.gz``)

The model is a stand-in for yours: k nearest neighbours on atom fractions (pymatgen and scikit-learn only), which
reads partial occupancies through ``Structure.composition``. Anything that fits on ``(structures, targets)`` and
predicts structures plugs in the same way: the task hands out each fold's training and test structures, scores
each fold as Matbench does and writes the file that ``matbench.MatbenchBenchmark.from_dict`` reads
(``mgl-supercon benchmark TASK --model NAME`` does the same for the package's models).
"""

from __future__ import annotations

import sys

import numpy as np
from pymatgen.core import Structure
from sklearn.feature_extraction import DictVectorizer
from sklearn.neighbors import KNeighborsRegressor

from matgl_supercon.benchmarks import load_task, write_matbench_results


class NearestCompositions:
    """ln Tc (or Tc) of a structure: the distance-weighted mean over its k nearest training compositions (L1)."""

    def __init__(self, k: int = 5) -> None:
        self.elements = DictVectorizer(sparse=False)
        self.knn = KNeighborsRegressor(n_neighbors=k, weights="distance", metric="manhattan")

    @staticmethod
    def fractions(structures: list[Structure]) -> list[dict[str, float]]:
        # Atom fractions of the occupied sites: Mg0.9Al0.1B2 -> {Mg: 0.3, Al: 0.033, B: 0.667}.
        return [{el.symbol: x for el, x in s.composition.fractional_composition.items()} for s in structures]

    def fit(self, structures: list[Structure], targets: np.ndarray) -> NearestCompositions:
        self.knn.fit(self.elements.fit_transform(self.fractions(structures)), targets)
        return self

    def predict(self, structures: list[Structure]) -> np.ndarray:
        # An element no training structure held gets no column: its fraction is left out of the distance.
        return self.knn.predict(self.elements.transform(self.fractions(structures)))


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "supercon3d_tc"
    data = sys.argv[2] if len(sys.argv) > 2 else None
    out = sys.argv[3] if len(sys.argv) > 3 else "results.json.gz"
    task = load_task(name, data)
    for fold in task.folds:
        structures, targets = task.get_train_and_val_data(fold)
        model = NearestCompositions().fit(list(structures), np.asarray(targets))
        task.record(fold, model.predict(list(task.get_test_data(fold))), params={"k": 5})
        print(f"{name} fold {fold}: MAE {task.results[f'fold_{fold}']['scores']['mae']:.3f} {task.metadata['unit']}")
    mae = task.scores["mae"]
    print(f"{name}: MAE {mae['mean']:.3f} ± {mae['std']:.3f} {task.metadata['unit']} over {len(task.folds)} folds")
    print(f"written: {write_matbench_results(out, [task])}")


if __name__ == "__main__":
    main()
