"""``mgl-supercon``: the command line. Thin: parses arguments and calls the package API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from matgl_supercon.data import read_structure
from matgl_supercon.graph import OccupancyStructure2Graph


def _cmd_graph(args: argparse.Namespace) -> int:
    converter = OccupancyStructure2Graph(cutoff=args.cutoff, max_neighbors=args.max_neighbors)
    status = 0
    for path in args.files:
        try:
            print(f"{path}: {converter.summary(read_structure(path))}")
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
    return status


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mgl-supercon`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="mgl-supercon", description="Superconductor Tc prediction and generation for ordered and disordered crystals."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    graph = sub.add_parser("graph", help="convert structures to occupancy-aware graphs and summarise them")
    graph.add_argument("files", nargs="+", help="structure files pymatgen can read (CIF, POSCAR, ...)")
    graph.add_argument("--cutoff", type=float, default=8.0, help="neighbour radius in A (default 8)")
    graph.add_argument("--max-neighbors", type=int, default=32, help="neighbours kept per site (default 32)")
    graph.set_defaults(func=_cmd_graph)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mgl-supercon``."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
