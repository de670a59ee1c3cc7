"""Atomic file writes: a temporary file beside the target, then a rename, so a killed job never leaves half a file."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def default_permissions(mode: int = 0o666) -> int:
    """``mode`` under the process umask: what ``open()`` (0o666) or ``mkdir()`` (0o777) would give.

    ``tempfile.mkstemp`` and ``mkdtemp`` create private (0600 / 0700) entries; outputs renamed from them into
    place should look like any other file the user writes.
    """
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, with the permissions a plain ``open(path, "wb")`` would give.

    Args:
        path: Target file; its folder is created if missing.
        data: The whole content.

    Returns:
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, default_permissions())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically (numpy scalars become floats)."""
    return write_bytes_atomic(path, json.dumps(data, indent=2, default=float).encode("utf-8"))


def read_csv_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV file as dicts of strings; no file, no rows.

    Raises:
        ValueError: Naming the file and line of a row with more or fewer fields than the header (a file cut short
            or edited by hand), which a resumed job would otherwise take for a finished row or crash on.
    """
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            if None in row or None in row.values():
                fields = sum(v is not None for k, v in row.items() if k is not None) + len(row.get(None, []))
                raise ValueError(
                    f"{path} line {reader.line_num}: {fields} field{'s' * (fields != 1)} where the header has "
                    f"{len(reader.fieldnames)} (cut short or edited?); mend or delete that line, and a rerun redoes "
                    "what it held"
                )
            rows.append(row)
    return rows


def write_csv_atomic(path: str | Path, rows: Iterable[dict], fieldnames: Iterable[str]) -> Path:
    """Write ``rows`` as a CSV with a header to ``path`` atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fieldnames))
    writer.writeheader()
    writer.writerows(rows)
    return write_bytes_atomic(path, buffer.getvalue().encode("utf-8"))


def record_or_check_settings(record: str | Path, settings: dict[str, Any], resuming: bool) -> None:
    """Record what decides a resumable job's outputs, or check that a resumed job has the same settings.

    A job that appends to earlier outputs made with other settings (another model, seed or target) would mix
    two experiments in one file without a trace; this makes it stop instead, naming what differs.

    Args:
        record: JSON file beside the outputs.
        settings: JSON-serialisable values that decide the outputs (e.g. a model fingerprint).
        resuming: Whether outputs are already there.

    Raises:
        ValueError: When ``record`` holds other settings, or outputs are there but ``record`` is not.
    """
    record = Path(record)
    settings = json.loads(json.dumps(settings))  # compared as stored: tuples are lists, keys strings
    if record.exists():
        theirs = json.loads(record.read_text())
        changed = sorted(k for k in settings.keys() | theirs.keys() if settings.get(k) != theirs.get(k))
        if changed:
            detail = "; ".join(f"{k}: {theirs.get(k)!r} there, {settings.get(k)!r} now" for k in changed)
            raise ValueError(
                f"{record}: the outputs beside it were made with other settings ({detail}); "
                "write to a new output or rerun with the same settings"
            )
        return
    if resuming:
        raise ValueError(
            f"{record}: missing, so the outputs already beside it cannot be traced to their settings; "
            "write to a new output"
        )
    write_bytes_atomic(record, (json.dumps(settings, indent=1) + "\n").encode("utf-8"))


def make_folder(path: str | Path) -> Path:
    """Create the folder ``path`` and its parents, also behind a link whose target does not exist yet.

    A run folder kept on another disk, or shared between two scripts, is often a link made before its target;
    a plain ``mkdir(parents=True)`` fails on such a dangling link, so the folder is made where the link points.
    """
    path = Path(path)
    path.resolve().mkdir(parents=True, exist_ok=True)
    return path


def replace_folder(new: str | Path, target: str | Path) -> None:
    """Put the folder ``new`` in ``target``'s place; the old ``target`` is removed only once ``new`` is there.

    Both must be on one file system (build ``new`` beside ``target``), so each step is a rename.
    """
    new, target = Path(new), Path(target)
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    new.rename(target)
    if old.exists():
        shutil.rmtree(old)
