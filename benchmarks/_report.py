"""What every benchmark script writes beside its numbers: the command, machine and date that made them.

The scripts under ``benchmarks/`` are run as ``python benchmarks/<script>.py``, so this folder is on ``sys.path``
and they import this module as ``from _report import ...``.
"""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from pathlib import Path

from matgl_supercon._io import write_bytes_atomic, write_json_atomic


def provenance(command: str, threads: int | str | None = None, accelerator: str = "cpu") -> dict[str, str]:
    """The ``meta`` fields every result file carries.

    Args:
        command: The command line that reproduces the file.
        threads: Torch or BLAS threads the run had (an int), a free description such as ``"2 cores"``, or None.
        accelerator: Lightning accelerator the run trained on; for ``"gpu"`` the GPU's name is added.

    Returns:
        ``{"command", "machine", "date"}``; the date is UTC, to the second.
    """
    if isinstance(threads, int):
        threads = f"{threads} torch thread{'s' if threads != 1 else ''}"
    machine = f"{platform.machine()} CPU{f', {threads}' if threads else ''} ({platform.system()})"
    if accelerator != "cpu":
        import torch

        machine += f", trained on {accelerator}"
        if torch.cuda.is_available():
            machine += f": {torch.cuda.get_device_name()}"
    return {"command": command, "machine": machine, "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def header_lines(title: str, meta: dict) -> list[str]:
    """A markdown title and the command / machine / date lines (two trailing spaces keep them on separate lines)."""
    return [
        f"# {title}",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']}  ",
        f"Date: {meta['date']}  ",
    ]


def write_report(stem: Path, payload: dict, lines: list[str]) -> None:
    """Write ``<stem>.json`` and ``<stem>.md`` atomically, then print the markdown."""
    write_json_atomic(stem.with_suffix(".json"), payload)
    text = "\n".join(lines) + "\n"
    write_bytes_atomic(stem.with_suffix(".md"), text.encode("utf-8"))
    print(text, end="")
