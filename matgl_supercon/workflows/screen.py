"""Screen a folder of structure files, or a file of formulas: resumable, atomic, errors listed and never fatal."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields
from fnmatch import fnmatchcase
from pathlib import Path

from tqdm.auto import tqdm

from matgl_supercon._io import read_csv_rows, record_or_check_settings, write_csv_atomic
from matgl_supercon.data import read_structure
from matgl_supercon.graph import classify_disorder
from matgl_supercon.models.ensemble import TcEnsemble
from matgl_supercon.pretrained import COMPOSITION_MEMBERS
from matgl_supercon.workflows.predict import (
    TcPrediction,
    composition_members,
    formula_prediction,
    make_prediction,
    resolve_model,
)

#: File name patterns screened by default, matched without regard to case (anything pymatgen or ASE reads can be
#: added).
DEFAULT_PATTERNS = ("*.cif", "*.cif.gz", "*.mcif", "POSCAR*", "*.vasp", "CONTCAR*", "*.extxyz")
ERROR_FIELDS = ("source", "error")
#: Columns of a screen's results file: the :class:`TcPrediction` fields.
RESULT_FIELDS = tuple(f.name for f in fields(TcPrediction))


@dataclass
class ScreenReport:
    """What a screening run did."""

    n_files: int
    n_done_before: int
    n_predicted: int
    n_errors: int
    top: list[TcPrediction]
    #: Files under the folder that match no pattern, so were not screened.
    other_files: list[str] = field(default_factory=list)


def _parse(path: str) -> tuple[str, object, str]:
    """Read and classify one file in a worker: ``(path, structure, disorder)`` or ``(path, error text, "")``."""
    try:
        structure = read_structure(path)
        return path, structure, classify_disorder(structure)[0]  # also surfaces invalid occupancies
    except Exception as exc:  # any failure is reported in the errors file, never fatal
        return path, f"{type(exc).__name__}: {exc}", ""


def _split_files(folder: str | Path, patterns: Iterable[str]) -> tuple[list[Path], list[Path]]:
    """``(matching, other)`` files under ``folder`` (recursive), sorted; a name matches a pattern whatever its case."""
    folder = Path(folder)
    if not folder.is_dir():
        hint = " (a file of formulas: screen_formulas, mgl-supercon screen --formula)" if folder.is_file() else ""
        raise ValueError(f"{folder}: not a folder{hint}")
    lowered = [pattern.lower() for pattern in patterns]
    matching, other = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        (matching if any(fnmatchcase(path.name.lower(), pattern) for pattern in lowered) else other).append(path)
    return matching, other


def find_structure_files(folder: str | Path, patterns: Iterable[str] = DEFAULT_PATTERNS) -> list[Path]:
    """Files under ``folder`` (recursive) whose name matches a pattern, whatever its case (``MgB2.CIF`` too), sorted."""
    return _split_files(folder, patterns)[0]


def screen_folder(
    folder: str | Path,
    out_csv: str | Path,
    model: str | Path | TcEnsemble = "SODNet-SuperCon3D",
    errors_csv: str | Path | None = None,
    workers: int = 1,
    chunk_size: int = 64,
    top_k: int = 10,
    patterns: Iterable[str] = DEFAULT_PATTERNS,
    progress: bool = True,
    allow_overlaps: bool = False,
) -> ScreenReport:
    """Predict Tc for every structure file under ``folder``.

    Results and errors are rewritten atomically after every chunk, so a run killed at any moment
    leaves complete files; rerunning skips every file already in either file. ``<out_csv stem>.model.json``
    records which model wrote them (its name and :meth:`TcEnsemble.fingerprint`), and a rerun with another
    model stops rather than mixing two models' predictions in one ranking.

    Args:
        folder: Folder searched recursively with ``patterns``.
        out_csv: Results CSV (one row per file, the :class:`TcPrediction` fields).
        model: Shipped model name, model folder, or loaded ensemble.
        errors_csv: Unreadable files and the reason; default ``<out_csv stem>.errors.csv``.
        workers: Processes that read and validate files in parallel.
        chunk_size: Files per prediction batch and per checkpoint of the output files.
        top_k: Size of the summary ranking.
        patterns: File name patterns (case is ignored); files matching none are listed in the report.
        progress: Show a progress bar.
        allow_overlaps: Accept two atoms closer than 0.5 A whose occupancies sum above 1 (an atom a CIF lists twice);
            by default such a file goes to the errors file. Recorded beside the model when set, so a rerun does not
            mix the two settings in one results file.

    Returns:
        A :class:`ScreenReport` with the top-k predictions over the whole results file.

    Raises:
        ValueError: When ``folder`` holds no file matching ``patterns``, the results file was written by another
            model (or by no recorded one), or ``workers`` or ``chunk_size`` is below 1 or ``top_k`` below 0.
    """
    if workers < 1 or chunk_size < 1 or top_k < 0:
        raise ValueError(
            f"workers and chunk_size must be at least 1 and top_k at least 0, got workers={workers}, "
            f"chunk_size={chunk_size}, top_k={top_k}"
        )
    ensemble = resolve_model(model)
    patterns = tuple(patterns)
    matching, others = _split_files(folder, patterns)
    files = [str(p) for p in matching]
    if not files:
        raise ValueError(f"{folder}: no structure files (searched recursively for {', '.join(patterns)})")
    identity = {"model": ensemble.name, "fingerprint": ensemble.fingerprint()}
    if allow_overlaps:  # only when set, so that results files written before the option existed still resume
        identity["allow_overlaps"] = True
    results = _Results.open(out_csv, errors_csv, identity)
    rows, errors, done = results.rows, results.errors, results.done()
    todo = [f for f in files if f not in done]
    n_done_before = len(files) - len(todo)
    predicted = 0
    executor = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        bar = tqdm(total=len(todo), disable=not progress, desc="screen", unit="file")
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            parsed = list(executor.map(_parse, chunk)) if executor else [_parse(p) for p in chunk]
            readable = [item for item in parsed if not isinstance(item[1], str)]
            errors += [{"source": p, "error": e} for p, e, _ in parsed if isinstance(e, str)]
            converted, graphs, failed = ensemble.graphs_or_errors([s for _, s, _ in readable], allow_overlaps)
            errors += [{"source": readable[j][0], "error": message} for j, message in failed.items()]
            good = [readable[j] for j in converted]
            if good:
                mean, sd = ensemble.predict_graphs(graphs)
                for (path, structure, kind), m, s in zip(good, mean.tolist(), sd.tolist(), strict=True):
                    unseen = ensemble.unseen_elements(structure)
                    rows.append(make_prediction(path, structure, m, s, kind, unseen).as_dict())
                predicted += len(good)
            results.save()
            bar.update(len(chunk))
        bar.close()
    finally:
        if executor:
            executor.shutdown()
    results.save_if_missing()
    top = results.top(top_k)
    return ScreenReport(len(files), n_done_before, predicted, len(errors), top, [str(p) for p in others])


@dataclass
class _Results:
    """A screen's results and errors files, and the rows they hold: read when it starts, rewritten as it goes."""

    out_csv: Path
    errors_csv: Path
    rows: list[dict]
    errors: list[dict]

    @classmethod
    def open(cls, out_csv: str | Path, errors_csv: str | Path | None, identity: dict) -> _Results:
        """Read what an earlier run wrote, once ``identity`` is checked against ``<out_csv stem>.model.json``.

        ``errors_csv`` defaults to ``<out_csv stem>.errors.csv``; ``identity`` holds the model and the settings that
        decide the rows (recorded by the first run).

        Raises:
            ValueError: As :func:`~matgl_supercon._io.record_or_check_settings`, for files another model wrote.
        """
        out_csv = Path(out_csv)
        out_csv.parent.mkdir(parents=True, exist_ok=True)
        errors_csv = Path(errors_csv) if errors_csv else out_csv.with_suffix(".errors.csv")
        results = cls(out_csv, errors_csv, read_csv_rows(out_csv), read_csv_rows(errors_csv))
        resuming = bool(results.rows or results.errors)
        record_or_check_settings(out_csv.with_suffix(".model.json"), identity, resuming=resuming)
        return results

    def done(self) -> set[str]:
        """The sources already in either file: a rerun skips them."""
        return {r["source"] for r in self.rows} | {r["source"] for r in self.errors}

    def save(self) -> None:
        """Rewrite both files atomically (a checkpoint)."""
        write_csv_atomic(self.out_csv, self.rows, RESULT_FIELDS)
        write_csv_atomic(self.errors_csv, self.errors, ERROR_FIELDS)

    def save_if_missing(self) -> None:
        """Write both files when no chunk did (nothing was left to do), so that they always exist after a run."""
        if not self.out_csv.exists():
            self.save()

    def top(self, top_k: int) -> list[TcPrediction]:
        """The ``top_k`` rows by predicted Tc, as predictions."""
        ranked = sorted(self.rows, key=lambda r: float(r["tc"]), reverse=True)[:top_k]
        text_columns = ("source", "formula", "disorder", "unseen_elements")
        # A results file from before unseen_elements existed lacks that column: its rows read as "" there.
        return [
            TcPrediction(**{c: r.get(c, "") if c in text_columns else float(r[c]) for c in RESULT_FIELDS})
            for r in ranked
        ]


def read_formulas(path: str | Path, column: str | None = None) -> list[tuple[int, str]]:
    """``(line, formula)`` of each formula in a file: one per line, or a CSV file's ``column``.

    Blank lines (and, in a CSV, blank cells) hold no formula and are passed over; every other entry is kept as
    written, for the screen to parse (and to list in its errors file if it cannot).

    Raises:
        ValueError: Naming the file when it does not exist, or, for a CSV, when it has no ``column``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file of formulas")
    with path.open(newline="") as handle:
        if column is None:
            return [(n, line.strip()) for n, line in enumerate(handle, 1) if line.strip()]
        reader = csv.DictReader(handle)
        if column not in (reader.fieldnames or []):
            raise ValueError(f"{path}: no column {column!r} (columns: {reader.fieldnames})")
        # Line numbers as an editor shows them: the header is line 1.
        return [(n, row[column].strip()) for n, row in enumerate(reader, 2) if (row[column] or "").strip()]


def screen_formulas(
    formulas_file: str | Path,
    out_csv: str | Path,
    model: str | Path | TcEnsemble = "SODNet-SuperCon3D",
    members: str = COMPOSITION_MEMBERS,
    column: str | None = None,
    errors_csv: str | Path | None = None,
    chunk_size: int = 4096,
    top_k: int = 10,
    progress: bool = True,
) -> ScreenReport:
    """Predict Tc for every formula in a file (a composition-space screen), resumably, as :func:`screen_folder` does.

    The formulas go to the model's composition-only members (:func:`predict_formula_tc`). Results and errors are
    rewritten atomically after every chunk; a rerun skips every formula already in either file, and stops if another
    model (or subset) wrote them. A formula that does not parse, holds an element the model cannot read, or repeats
    an earlier line goes to the errors file with its line; nothing stops the screen.

    Args:
        formulas_file: One formula per line, or a CSV file with ``column``.
        out_csv: Results CSV (one row per distinct formula, the :class:`TcPrediction` fields; ``source`` is the
            formula as written).
        model: Shipped model name, model folder, or a loaded :class:`TcEnsemble` (then ``members`` is not read).
        members: As for :func:`predict_formula_tc`.
        column: The CSV column holding the formulas; None reads the file as one formula per line.
        errors_csv: Refused formulas and the reason; default ``<out_csv stem>.errors.csv``.
        chunk_size: Formulas per batch and per checkpoint of the output files.
        top_k: Size of the summary ranking.
        progress: Show a progress bar.

    Returns:
        A :class:`ScreenReport` (``n_files``: the formulas in the file) with the top-k predictions over the whole
        results file.

    Raises:
        ValueError: For a file without formulas, a CSV without ``column``, a model whose members read the structure,
            a results file written by another model, or ``chunk_size`` below 1 or ``top_k`` below 0.
    """
    if chunk_size < 1 or top_k < 0:
        raise ValueError(f"chunk_size must be at least 1 and top_k at least 0, got {chunk_size} and {top_k}")
    entries = read_formulas(formulas_file, column)
    if not entries:
        raise ValueError(f"{formulas_file}: no formulas")
    ensemble = model if isinstance(model, TcEnsemble) else composition_members(model, members)
    ensemble.require_composition_members()  # once here, not as an error for every formula
    identity = {"model": ensemble.name, "fingerprint": ensemble.fingerprint(), "input": "formulas"}
    results = _Results.open(out_csv, errors_csv, identity)
    rows, errors, done = results.rows, results.errors, results.done()
    n_done_before = sum(formula in done for _, formula in entries)
    first_line: dict[str, int] = {}
    todo = []
    for line, formula in entries:
        if formula in done:
            continue
        if formula in first_line:  # listed again: one prediction per formula, and the repeat named
            errors.append({"source": formula, "error": f"line {line}: repeats line {first_line[formula]}"})
            continue
        first_line[formula] = line
        todo.append((line, formula))
    predicted = 0
    bar = tqdm(total=len(todo), disable=not progress, desc="screen", unit="formula")
    for start in range(0, len(todo), chunk_size):
        good, graphs = [], []
        for line, formula in todo[start : start + chunk_size]:
            try:
                graphs.append(ensemble.formula_graph(formula))
                good.append(formula)
            except ValueError as error:
                errors.append({"source": formula, "error": f"line {line}: {error}"})
        if good:
            mean, sd = ensemble.predict_graphs(graphs)
            for formula, m, s in zip(good, mean.tolist(), sd.tolist(), strict=True):
                rows.append(formula_prediction(formula, m, s, ensemble).as_dict())
            predicted += len(good)
        results.save()
        bar.update(len(todo[start : start + chunk_size]))
    bar.close()
    results.save_if_missing()
    return ScreenReport(len(entries), n_done_before, predicted, len(errors), results.top(top_k))
