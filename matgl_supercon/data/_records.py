"""The record type shared by every loader, and how loaders find the data and read structures."""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pymatgen.core import Composition, Structure
from pymatgen.io.cif import CifParser

#: File names pymatgen reads as CIF (its own patterns; ``MgB2.cif.gz`` too), matched without regard to case.
CIF_PATTERNS = ("*.cif*", "*.mcif*")
#: Environment variable holding the folder that contains the dataset folders (SuperCon3D/, 3DSC_MP/, ...).
DATA_ENV_VAR = "MATGL_SUPERCON_DATA"

#: Where users download each dataset; the folder names are the ones our loaders expect under the data root.
DATASET_SOURCES: dict[str, str] = {
    "SuperCon3D": "https://github.com/pincher-chen/SODNet (datasets/SuperCon/: cif/ and df_all_data1202.csv)",
    "3DSC_MP": "https://github.com/aimat-lab/3DSC (superconductors_3D/: 3DSC_MP.csv and data/final/MP/cifs/)",
    "JARVIS_Tc": "https://github.com/usnistgov/jarvis_leaderboard (jarvis_leaderboard/benchmarks/AI/: "
    "AtomGen_dft_3d_Tc_supercon.json.zip, SinglePropertyPrediction_dft_3d_Tc_supercon.json.zip)",
    "DiffCSP-SC": "https://github.com/pincher-chen/DiffCSP-SC (data/properties/SuperCon/: train/val/test.csv)",
    "Perov-5": "https://github.com/txie-93/cdvae (data/perov_5/: train/val/test.csv)",
    "SuperCon": "https://github.com/aimat-lab/3DSC (data/source/SuperCon/raw/: Supercon_data_by_2018_Stanev.csv)",
}


@dataclass
class SuperconRecord:
    """One crystal with its critical temperature.

    Attributes:
        id: Identifier unique within its dataset (ICSD file name, JARVIS jid, row key, ...).
        structure: The crystal, possibly with partial occupancies.
        tc: Critical temperature in K (``nan`` where a dataset has none, e.g. Perov-5).
        metadata: Dataset-specific columns (family, formula, split, group keys, ...).
    """

    id: str
    structure: Structure
    tc: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ln_tc(self) -> float:
        """Natural log of Tc / K, the regression target of the SuperCon3D paper."""
        return math.log(self.tc)


@dataclass
class FormulaRecord:
    """One chemical formula with its critical temperature, from a table without structures.

    Attributes:
        id: Identifier unique within its table (the CSV row number).
        formula: The formula as the table writes it.
        composition: The parsed composition.
        tc: Critical temperature in K (0 where the table marks a non-superconductor).
    """

    id: str
    formula: str
    composition: Composition
    tc: float


def resolve_data_dir(root: str | Path | None, dataset: str) -> Path:
    """Find the folder of one dataset.

    Args:
        root: Folder holding the dataset folders, or the dataset folder itself. ``None`` reads
            ``$MATGL_SUPERCON_DATA``.
        dataset: Name of the dataset folder (a key of :data:`DATASET_SOURCES`).

    Returns:
        The existing dataset folder.

    Raises:
        FileNotFoundError: Naming the folders tried and where to download the data.
    """
    if root is None:
        env = os.environ.get(DATA_ENV_VAR)
        if not env:
            raise FileNotFoundError(
                f"No data location: pass root=... or set ${DATA_ENV_VAR} to the folder holding {dataset}/. "
                f"Download {dataset} from {DATASET_SOURCES.get(dataset, 'its upstream home')}."
            )
        root = env
    root = Path(root).expanduser()
    if (root / dataset).is_dir():
        return root / dataset
    if root.is_dir() and root.name == dataset:
        return root
    raise FileNotFoundError(
        f"Dataset folder {dataset!r} not found under {root}. "
        f"Download it from {DATASET_SOURCES.get(dataset, 'its upstream home')}."
    )


def _read_non_cif(path: Path) -> list[Structure]:
    """Every structure in a file that is not a CIF: pymatgen's readers, then ASE's for formats pymatgen lacks.

    ASE reads extended XYZ, trajectories and the many codes' formats an ASE user keeps structures in; its frames
    come back one structure each, so that the caller can refuse a file with several.
    """
    if path.is_dir():  # (ASE would try it as a trajectory folder)
        raise IsADirectoryError(f"{path} is a folder; mgl-supercon screen (screen_folder) reads a folder's files")
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        return [Structure.from_file(str(path))]
    except ValueError as exc:
        if "Unrecognized" not in str(exc):  # pymatgen knows the format, and the file is broken: say so
            raise
    from ase.io import read

    from matgl_supercon.graph import atoms_to_structure

    try:
        frames = read(str(path), index=":")
    except Exception as exc:
        raise ValueError(f"pymatgen has no reader for it, and ASE failed: {type(exc).__name__}: {exc}") from exc
    return [atoms_to_structure(atoms) for atoms in frames]


def read_structure(source: str | Path, *, cif_text: str | None = None, fmt: str | None = None) -> Structure:
    """Read one structure, disorder included, and fail loudly.

    Args:
        source: File path, or a label (e.g. ``"train.csv row 12"``) when ``cif_text`` is given.
        cif_text: CIF contents, for tables that store the CIF in a column.
        fmt: Format hint for text input other than CIF (``"poscar"``).

    A file pymatgen has no reader for (extended XYZ, an ASE trajectory, ...) is read with ASE.

    Returns:
        The parsed structure. pymatgen merges CIF rows that share a position into one site with
        several species, which is how substitutional disorder reaches the graph converter.

    Raises:
        ValueError: Naming ``source`` and pymatgen's reason when the input cannot be parsed, the data blocks
            when a CIF holds several structures (pymatgen would return the first and drop the others), or the
            number of frames when another file does.
    """
    with warnings.catch_warnings(record=True) as caught:
        # pymatgen reports both harmless rounding and the reason a CIF yields no structure as warnings:
        # keep them quiet, but put them into the error when parsing fails.
        warnings.simplefilter("always")
        try:
            if cif_text is not None and fmt not in (None, "cif"):
                return Structure.from_str(cif_text, fmt=fmt)
            is_cif = cif_text is not None or any(fnmatchcase(Path(source).name.lower(), p) for p in CIF_PATTERNS)
            if not is_cif:
                structures = _read_non_cif(Path(source))
            else:
                # What Structure.from_file does with a CIF, but seeing every structure the file holds.
                parser = CifParser.from_str(cif_text) if cif_text is not None else CifParser(source)
                structures = parser.parse_structures(primitive=False)
        except Exception as exc:
            notes = sorted({str(w.message).strip() for w in caught if "rounded" not in str(w.message)})
            detail = f"; pymatgen warned: {' | '.join(notes)}" if notes else ""
            raise ValueError(f"{source}: cannot read structure ({type(exc).__name__}: {exc}){detail}") from exc
    if len(structures) > 1:  # (a CIF without any structure raised above: parse_structures refuses it)
        if not is_cif:
            raise ValueError(
                f"{source}: the file holds {len(structures)} structures (frames); one is read per file, so write "
                "the frame you mean to a file of its own (ase.io.read(path, index=-1) picks the last)"
            )
        blocks = ", ".join(f"data_{name}" for name in parser.as_dict())
        raise ValueError(
            f"{source}: the CIF holds {len(structures)} structures (its data blocks: {blocks}); one is read per file, "
            "so split it into one file per structure"
        )
    return structures[0]
