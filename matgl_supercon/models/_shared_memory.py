"""Retrieval-memory rows stored once for several saved models (e.g. the members of a shipped ensemble).

A retrieval model keeps its memory (composition statistics of every structure it reads) in its state dict. Models
given the same read-only memory set (the SuperCon formula table) all end their memory with the same rows: each
member of an ensemble would carry its own copy of several megabytes. :func:`share_retrieval_memory` moves that
common tail into one file beside the members; each member folder then holds its own rows in ``state.pt`` and a
``shared_memory.json`` naming the file, its row count and a SHA-256 of the rows. :func:`read_state` puts the rows
back, so a member folder stays a model folder that ``matgl.load_model`` (through ``SODNet.load``) and
:func:`matgl_supercon.pretrained.load_model` read exactly as before, while its shared file is beside it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import torch

from matgl_supercon._io import replace_folder, write_bytes_atomic, write_json_atomic

#: Member file that names the shared rows.
SHARED_MEMORY_JSON = "shared_memory.json"
#: The state-dict entry whose tail rows are shared (the labels are standardised per model, so they stay per model).
MEMORY_KEY = "retrieval.memory_statistics"


def _rows_digest(rows: torch.Tensor) -> str:
    return hashlib.sha256(rows.contiguous().numpy().tobytes()).hexdigest()


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def read_state(folder: str | Path) -> dict[str, torch.Tensor]:
    """A saved model's state dict (``folder/state.pt``), with memory rows kept in a shared file put back.

    Raises:
        FileNotFoundError: If the folder references a shared file that is not there.
        ValueError: If the shared file's rows are not those the folder was written with.
    """
    folder = Path(folder)
    state = torch.load(folder / "state.pt", map_location="cpu", weights_only=True)
    reference_path = folder / SHARED_MEMORY_JSON
    if not reference_path.exists():
        return state
    reference = json.loads(reference_path.read_text())
    shared_path = folder / reference["file"]
    if not shared_path.exists():
        raise FileNotFoundError(
            f"{folder}: {reference['rows']} rows of its retrieval memory are in {shared_path}, which is missing "
            "(a member of an ensemble needs the ensemble folder's shared files: copy the whole folder)"
        )
    rows = torch.load(shared_path, map_location="cpu", weights_only=True).get(reference["key"])
    if rows is None or rows.shape[0] != reference["rows"] or _rows_digest(rows) != reference["sha256"]:
        found = "no such rows" if rows is None else f"{rows.shape[0]} rows with another SHA-256"
        raise ValueError(
            f"{folder}: {shared_path} does not hold the {reference['rows']} memory rows this model was saved with "
            f"(it holds {found}); rebuild the ensemble folder"
        )
    state[reference["key"]] = torch.cat([state[reference["key"]], rows])
    return state


def _common_tail(first: torch.Tensor, other: torch.Tensor) -> int:
    """How many last rows of two ``[n, d]`` tensors are equal, row for row, from the end."""
    n = min(len(first), len(other))
    if n == 0 or first.shape[1:] != other.shape[1:]:
        return 0
    equal = (first[len(first) - n :] == other[len(other) - n :]).all(1).flip(0)
    return int(torch.cumprod(equal.long(), 0).sum())


def share_retrieval_memory(members: Sequence[str | Path], shared_file: str | Path) -> int:
    """Store the retrieval-memory rows that all ``members`` end with once, in ``shared_file``.

    Each member folder (saved by ``SODNet.save``) keeps its own rows in ``state.pt`` and gets a
    ``shared_memory.json`` with the path of ``shared_file`` relative to it; predictions are unchanged (checked
    before returning). Members that already reference a shared file are read through it first.

    Args:
        members: Model folders whose state dicts have a retrieval memory (``retrieval.memory_statistics``).
        shared_file: Where the common rows go (e.g. ``<ensemble>/shared_memory.pt``).

    Returns:
        The number of rows now stored once (0 when the members share no tail; then nothing is written).

    Raises:
        ValueError: If fewer than two members are given or one has no retrieval memory.
    """
    folders = [Path(m) for m in members]
    if len(folders) < 2:
        raise ValueError(f"sharing memory rows needs at least two models, got {len(folders)}")
    states = [read_state(f) for f in folders]
    for folder, state in zip(folders, states, strict=True):
        if MEMORY_KEY not in state:
            raise ValueError(f"{folder}: has no retrieval memory ({MEMORY_KEY} is not in its state.pt)")
    memories = [s[MEMORY_KEY] for s in states]
    tail = min(_common_tail(memories[0], m) for m in memories[1:])
    if tail == 0:
        return 0
    shared_file = Path(shared_file)
    rows = memories[0][len(memories[0]) - tail :].clone()
    _save_tensors(shared_file, {MEMORY_KEY: rows})
    digest = _rows_digest(rows)
    for folder, state, memory in zip(folders, states, memories, strict=True):
        # Written into a copy swapped in whole, so a member is never left with its own rows and no reference.
        staging = folder.with_name(f".{folder.name}.sharing")
        if staging.exists():
            shutil.rmtree(staging)
        shutil.copytree(folder, staging)
        _save_tensors(staging / "state.pt", dict(state, **{MEMORY_KEY: memory[: len(memory) - tail].clone()}))
        reference = {
            "file": os.path.relpath(shared_file, folder),
            "key": MEMORY_KEY,
            "rows": tail,
            "sha256": digest,
            "note": "the last rows of this model's retrieval memory, stored once for several models",
        }
        write_json_atomic(staging / SHARED_MEMORY_JSON, reference)
        if not torch.equal(read_state(staging)[MEMORY_KEY], memory):
            raise RuntimeError(f"{folder}: its memory does not read back after sharing rows with {shared_file}")
        replace_folder(staging, folder)
    return tail
