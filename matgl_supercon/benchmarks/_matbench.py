"""Matbench ``results.json.gz`` files for our Tc tasks, and reading them back with ``matbench`` itself.

The file layout is ``MatbenchBenchmark.as_dict``: ``version``, ``benchmark_name``, ``tasks`` (one
``MatbenchTask.as_dict`` each), ``user_metadata``, ``datestamp`` and a SHA-256 ``hash`` of the rest,
computed as ``matbench.util.hash_dictionary`` does, so ``MatbenchBenchmark.from_dict`` accepts it.
matbench (installed with ``pip install --no-deps matbench==0.6``) knows only its own thirteen datasets;
:func:`read_matbench_results` registers our tasks' metadata and splits with it for the duration of the
read, so matbench validates every fold against the real split before returning the benchmark.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from matgl_supercon._io import write_bytes_atomic
from matgl_supercon.benchmarks._tasks import MATBENCH_BENCHMARK, TcTask

#: The matbench release whose file format we write.
MATBENCH_VERSION = "0.6"
_DATESTAMP_FORMAT = "%Y.%m.%d %H:%M.%S"


def _canonical(d: dict) -> dict:
    """Matbench's ``immutify_dictionary``: keys sorted recursively, arrays and lists as tuples."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, np.ndarray):
            out[key] = tuple(value.tolist())
        elif isinstance(value, list):
            out[key] = tuple(value)
        elif isinstance(value, dict):
            out[key] = _canonical(value)
        elif hasattr(value, "dtype"):
            out[key] = value.item()
        else:
            out[key] = value
    return dict(sorted(out.items(), key=lambda item: item[0]))


def results_hash(d: dict) -> str:
    """SHA-256 of a results dictionary, identical to ``matbench.util.hash_dictionary``."""
    return hashlib.sha256(json.dumps(_canonical(d)).encode("utf-8")).hexdigest()


def matbench_results(tasks: Sequence[TcTask], user_metadata: dict | None = None) -> dict:
    """The ``MatbenchBenchmark.as_dict`` dictionary of recorded tasks.

    Raises:
        ValueError: If a task has folds that are not recorded.
    """
    for task in tasks:
        if not task.all_folds_recorded:
            missing = [k for k, done in task.is_recorded.items() if not done]
            raise ValueError(f"task {task.dataset_name}: folds {missing} not recorded")
    d = {
        "@module": "matbench.bench",
        "@class": "MatbenchBenchmark",
        "version": MATBENCH_VERSION,
        "tasks": _canonical({t.dataset_name: t.as_dict() for t in tasks}),
        "user_metadata": _canonical(user_metadata or {}),
        "benchmark_name": MATBENCH_BENCHMARK,
        "datestamp": datetime.now(timezone.utc).strftime(_DATESTAMP_FORMAT),
    }
    d["hash"] = results_hash(d)
    return d


def write_matbench_results(path: str | Path, tasks: Sequence[TcTask], user_metadata: dict | None = None) -> Path:
    """Write ``results.json.gz`` atomically (a temporary file in the same folder, then a rename)."""
    data = json.dumps(matbench_results(tasks, user_metadata)).encode("utf-8")
    return write_bytes_atomic(path, gzip.compress(data, mtime=0))


@contextlib.contextmanager
def registered_with_matbench(tasks: Sequence[TcTask]) -> Iterator[None]:
    """Make matbench 0.6 treat our tasks as its own while the context is open.

    Adds each task's metadata and splits to ``matbench.metadata`` and answers matbench's dataset-info
    lookup for them (matminer does not know these datasets); everything is restored on exit.

    Raises:
        ImportError: If matbench is not installed.
        ValueError: If a task name clashes with a Matbench dataset.
    """
    try:
        import matbench.task as matbench_task
        from matbench.metadata import mbv01_metadata, mbv01_validation
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("reading results with matbench needs `pip install --no-deps matbench==0.6`") from err
    names = [t.dataset_name for t in tasks]
    clash = [n for n in names if n in mbv01_metadata]
    if clash:
        raise ValueError(f"task names {clash} are Matbench datasets already")
    original_info = matbench_task.get_all_dataset_info
    info = {t.dataset_name: f"Dataset: {t.dataset_name}\nDescription: {t.description}\n" for t in tasks}
    for task in tasks:
        mbv01_metadata[task.dataset_name] = task.metadata
        mbv01_validation.splits[task.dataset_name] = task.matbench_splits()
    matbench_task.get_all_dataset_info = lambda name: info[name] if name in info else original_info(name)
    try:
        yield
    finally:
        matbench_task.get_all_dataset_info = original_info
        for name in names:
            mbv01_metadata.pop(name, None)
            mbv01_validation.splits.pop(name, None)


def read_matbench_results(path: str | Path, tasks: Sequence[TcTask]):
    """Load a results file with ``matbench.MatbenchBenchmark.from_dict``, validated against ``tasks``' splits.

    Args:
        path: A ``results.json.gz`` (or plain ``.json``) written by :func:`write_matbench_results`.
        tasks: The tasks the file records (their splits are what matbench validates against).

    Returns:
        A ``matbench.bench.MatbenchBenchmark``; its tasks' ``scores`` are computed by matbench.
    """
    from matbench.bench import MatbenchBenchmark

    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        d = json.load(f)
    with registered_with_matbench(tasks):
        benchmark = MatbenchBenchmark.from_dict(d)
        for task in benchmark.tasks:
            task.scores  # noqa: B018 - computed while the metadata is registered; raises if incomplete
    return benchmark
