"""Build the example structures under examples/structures/ (run from the repository root).

MgB2 (ordered), Mg0.9Al0.1B2 (substitutional disorder), Mg0.98B2 (Mg vacancies) and
YBa2Cu3O6.9 (a cuprate with 10% vacancies on the chain oxygen site), from textbook lattice
parameters: MgB2 a = 3.086, c = 3.524 A (Nagamatsu et al., Nature 2001); YBa2Cu3O7-d Pmmm
a = 3.82, b = 3.89, c = 11.68 A with Wyckoff positions from Jorgensen et al., PRB 41, 1863 (1990).
"""

from __future__ import annotations

from pathlib import Path

from pymatgen.core import Lattice, Structure

OUT = Path(__file__).parent / "structures"


def mgb2(mg_site) -> Structure:
    lattice = Lattice.hexagonal(3.086, 3.524)
    return Structure(lattice, [mg_site, "B", "B"], [[0, 0, 0], [1 / 3, 2 / 3, 0.5], [2 / 3, 1 / 3, 0.5]])


def ybco(chain_oxygen: float) -> Structure:
    lattice = Lattice.orthorhombic(3.82, 3.89, 11.68)
    sites = [
        ("Y", [0.5, 0.5, 0.5]),
        ("Ba", [0.5, 0.5, 0.184]),
        ("Ba", [0.5, 0.5, 0.816]),
        ("Cu", [0, 0, 0]),
        ("Cu", [0, 0, 0.355]),
        ("Cu", [0, 0, 0.645]),
        ({"O": chain_oxygen}, [0, 0.5, 0]),
        ("O", [0.5, 0, 0.378]),
        ("O", [0.5, 0, 0.622]),
        ("O", [0, 0.5, 0.377]),
        ("O", [0, 0.5, 0.623]),
        ("O", [0, 0, 0.159]),
        ("O", [0, 0, 0.841]),
    ]
    return Structure(lattice, [s for s, _ in sites], [c for _, c in sites])


def main() -> None:
    OUT.mkdir(exist_ok=True)
    examples = {
        "MgB2": mgb2("Mg"),
        "Mg0.9Al0.1B2": mgb2({"Mg": 0.9, "Al": 0.1}),
        "Mg0.98B2": mgb2({"Mg": 0.98}),
        "YBa2Cu3O6.9": ybco(0.9),
    }
    for name, structure in examples.items():
        structure.to(filename=str(OUT / f"{name}.cif"))
        print(f"wrote {OUT / name}.cif: {structure.composition.formula}")


if __name__ == "__main__":
    main()
