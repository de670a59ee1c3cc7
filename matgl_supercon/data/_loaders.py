"""Loaders, one per upstream layout, each returning records in file order.

Structure datasets give :class:`SuperconRecord`; the formula-only SuperCon table gives :class:`FormulaRecord`.
"""

from __future__ import annotations

import json
import math
import warnings
import zipfile
from pathlib import Path
from typing import Literal

import pandas as pd
from pymatgen.core import Composition
from tqdm.auto import tqdm

from matgl_supercon.data._records import FormulaRecord, SuperconRecord, read_structure, resolve_data_dir

Split = Literal["train", "val", "test"]


def _check_tc(value: object, where: str, *, allow_zero: bool = False, allow_nan: bool = False) -> float:
    """Return ``value`` as a float Tc in K, or raise naming ``where``."""
    try:
        tc = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: Tc {value!r} is not a number") from exc
    if math.isnan(tc) and allow_nan:
        return tc
    if not math.isfinite(tc) or tc < 0 or (tc == 0 and not allow_zero):
        raise ValueError(f"{where}: Tc {value!r} K is not a positive finite temperature")
    return tc


def _progress(items, show: bool, desc: str):
    return tqdm(items, desc=desc, disable=not show, leave=False)


def load_supercon3d(
    root: str | Path | None = None,
    *,
    order: Literal["order", "disorder"] | None = None,
    progress: bool = False,
) -> list[SuperconRecord]:
    """Load SuperCon3D (Chen et al., NeurIPS 2024) from its upstream layout.

    The folder holds ``cif/<id>.cif`` and ``df_all_data1202.csv`` (columns ``,tc,family,cf,order``;
    the first column is the CIF file name).

    Args:
        root: Data root (or the ``SuperCon3D`` folder itself); default ``$MATGL_SUPERCON_DATA``.
        order: Keep only the ``"order"`` or ``"disorder"`` rows of the table's ``order`` column.
        progress: Show a progress bar.

    Returns:
        1,578 records on the published data; metadata ``family``, ``formula`` and ``order``.

    Note:
        Five of the published CIFs put two atoms closer than 0.5 Å where their occupancies sum above 1:
        ``Hf1H10`` and ``Zr1H10`` list each metal atom three times (0.005 Å apart; Hf3H10 instead of HfH10),
        ``195012`` (Rb2Cr3As3) has Cr and As 0.087 Å apart, ``151637`` full and 0.1-occupied O 0.23 Å apart, and
        ``Li1P2H14`` 165 such pairs. They are kept, as the paper trained and tested on them: convert them with
        ``allow_overlaps=True`` (the package's benchmarks and ``mgl-supercon train`` on this dataset do); the graph
        converter refuses such crystals otherwise. In 8 records the CIF's composition differs from the table's
        formula (``metadata["formula"]``, the compound the Tc belongs to) by 10% of the atoms or more (e.g. the
        CIF of YPd2P2 holds YPd2, that of LuSi3 YSi3); ``benchmarks/results/supercon3d_audit.md`` lists them all.
    """
    folder = resolve_data_dir(root, "SuperCon3D")
    table_path = folder / "df_all_data1202.csv"
    table = pd.read_csv(table_path)
    name_col = table.columns[0]
    records = []
    for row, item in _progress(list(table.iterrows()), progress, "SuperCon3D"):
        if order is not None and item["order"] != order:
            continue
        cif_name = str(item[name_col])
        where = f"{table_path} row {row + 2} ({cif_name})"
        tc = _check_tc(item["tc"], where)
        cif_path = folder / "cif" / cif_name
        if not cif_path.is_file():
            raise ValueError(f"{where}: CIF file {cif_path} does not exist")
        records.append(
            SuperconRecord(
                id=cif_name.removesuffix(".cif"),
                structure=read_structure(cif_path),
                tc=tc,
                metadata={"family": item["family"], "formula": item["cf"], "order": item["order"]},
            )
        )
    return records


def load_3dsc_mp(root: str | Path | None = None, *, progress: bool = False) -> list[SuperconRecord]:
    """Load 3DSC_MP (Sommer et al., Sci. Data 2023; CC BY 4.0) from ``3DSC_MP.csv`` and its CIFs.

    Tc = 0 K marks a non-superconductor and is kept. The ``cif`` column is relative to the folder.

    Args:
        root: Data root (or the ``3DSC_MP`` folder itself); default ``$MATGL_SUPERCON_DATA``.
        progress: Show a progress bar.

    Returns:
        5,773 records on the published data; metadata holds every other column of the table
        (``formula_sc``, ``sc_class``, ``mp_id``, ``chemsys``, ``disorder_type``, ...).
    """
    folder = resolve_data_dir(root, "3DSC_MP")
    table_path = folder / "3DSC_MP.csv"
    table = pd.read_csv(table_path)
    records = []
    for row, item in _progress(list(table.iterrows()), progress, "3DSC_MP"):
        where = f"{table_path} row {row + 2} ({item['formula_sc']})"
        cif_path = folder / str(item["cif"])
        if not cif_path.is_file():
            raise ValueError(f"{where}: CIF file {cif_path} does not exist")
        metadata = {k: (v.item() if hasattr(v, "item") else v) for k, v in item.items() if k not in ("tc", "cif")}
        records.append(
            SuperconRecord(
                id=cif_path.stem,
                structure=read_structure(cif_path),
                tc=_check_tc(item["tc"], where, allow_zero=True),
                metadata=metadata,
            )
        )
    return records


def _parse_formula(formula: str, where: str) -> Composition:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns about unusual element symbols; errors still raise
        try:
            composition = Composition(formula)
        except (ValueError, KeyError) as error:
            raise ValueError(f"{where}: formula {formula!r} cannot be parsed ({error})") from None
    if composition.num_atoms <= 0:
        raise ValueError(f"{where}: formula {formula!r} has no atoms")
    return composition


def load_supercon_formulas(root: str | Path | None = None, *, skip_invalid: bool = False) -> list[FormulaRecord]:
    """Load the formula-only SuperCon table of Stanev et al. (npj Comput. Mater. 2018), as 3DSC ships it.

    ``SuperCon/Supercon_data_by_2018_Stanev.csv`` has columns ``name,Tc``: 16,414 formulas, Tc = 0 K marking
    non-superconductors. Eight upstream formulas do not parse (``Sm1Ba-1Cu3O6.94``, ``...O10=z``, ...).

    Args:
        root: Data root (or the ``SuperCon`` folder itself); default ``$MATGL_SUPERCON_DATA``.
        skip_invalid: Leave out rows whose formula does not parse, with one warning naming every such row;
            by default the first one raises.

    Returns:
        One record per kept row, in file order; ``id`` is the CSV row number (header = row 1).

    Raises:
        ValueError: Naming the file and row of a missing column, a bad Tc or (unless ``skip_invalid``) a
            formula that does not parse.
    """
    path = resolve_data_dir(root, "SuperCon") / "Supercon_data_by_2018_Stanev.csv"
    table = pd.read_csv(path, dtype={"name": str}, keep_default_na=False)
    for column in ("name", "Tc"):
        if column not in table.columns:
            raise ValueError(f"{path}: no column {column!r} (columns: {list(table.columns)})")
    records, skipped = [], []
    for row, (formula, tc) in enumerate(zip(table["name"], table["Tc"], strict=True), start=2):
        where = f"{path} row {row}"
        tc = _check_tc(tc, where, allow_zero=True)
        try:
            composition = _parse_formula(formula, where)
        except ValueError as error:
            if not skip_invalid:
                raise
            skipped.append(str(error).removeprefix(f"{path} "))
            continue
        records.append(FormulaRecord(id=str(row), formula=formula, composition=composition, tc=tc))
    if skipped:
        warnings.warn(f"{path}: left out {len(skipped)} rows: " + "; ".join(skipped), stacklevel=2)
    return records


def _read_zipped_json(path: Path) -> dict:
    if not path.is_file():
        raise ValueError(f"{path}: file does not exist")
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith(".json")]
        if len(names) != 1:
            raise ValueError(f"{path}: expected one .json member, found {names}")
        return json.loads(archive.read(names[0]))


def load_jarvis_tc(root: str | Path | None = None, *, progress: bool = False) -> list[SuperconRecord]:
    """Load the JARVIS-DFT electron-phonon Tc set as the JARVIS-Leaderboard ships it.

    Structures come from ``AtomGen_dft_3d_Tc_supercon.json.zip`` (POSCAR texts), Tc from
    ``jarvis_supercon_3d.csv``; ``SinglePropertyPrediction_dft_3d_Tc_supercon.json.zip`` gives the
    leaderboard's property split (556/30/30), recorded as ``metadata["leaderboard_split"]`` (``None``
    outside it) with the leaderboard's own rounded value in ``metadata["leaderboard_tc"]``.

    Args:
        root: Data root (or the ``JARVIS_Tc`` folder itself); default ``$MATGL_SUPERCON_DATA``.
        progress: Show a progress bar.

    Returns:
        1,056 records on the published data (two jids of the table have no structure upstream).
    """
    folder = resolve_data_dir(root, "JARVIS_Tc")
    structures = _read_zipped_json(folder / "AtomGen_dft_3d_Tc_supercon.json.zip")
    task = _read_zipped_json(folder / "SinglePropertyPrediction_dft_3d_Tc_supercon.json.zip")
    table_path = folder / "jarvis_supercon_3d.csv"
    table = pd.read_csv(table_path)
    tc_by_jid = dict(zip(table["jid"], table["tc"], strict=True))
    split_of = {jid: (split, tc) for split, values in task.items() for jid, tc in values.items()}
    records = []
    items = [(split, jid, text) for split, block in structures.items() for jid, text in block.items()]
    for split, jid, text in _progress(items, progress, "JARVIS"):
        where = f"{folder / 'AtomGen_dft_3d_Tc_supercon.json.zip'} [{split}][{jid}]"
        if jid not in tc_by_jid:
            raise ValueError(f"{where}: no Tc for this jid in {table_path}")
        # The leaderboard stores POSCARs with escaped newlines.
        poscar = text.replace("\\n", "\n")
        board_split, board_tc = split_of.get(jid, (None, None))
        records.append(
            SuperconRecord(
                id=jid,
                structure=read_structure(where, cif_text=poscar, fmt="poscar"),
                tc=_check_tc(tc_by_jid[jid], f"{table_path} jid {jid}", allow_zero=True),
                metadata={"atomgen_split": split, "leaderboard_split": board_split, "leaderboard_tc": board_tc},
            )
        )
    return records


def _load_cif_text_table(path: Path, *, tc_column: str | None, progress: bool, desc: str) -> list[SuperconRecord]:
    table = pd.read_csv(path)
    records = []
    for row, item in _progress(list(table.iterrows()), progress, desc):
        where = f"{path} row {row + 2}"
        key = item.get("name", item.get("material_id", row))
        metadata = {k: v for k, v in item.items() if k not in ("cif",) and not str(k).startswith("Unnamed")}
        tc = _check_tc(item[tc_column], where) if tc_column else math.nan
        records.append(
            SuperconRecord(
                id=str(key).removesuffix(".cif"),
                structure=read_structure(where, cif_text=item["cif"]),
                tc=tc,
                metadata=metadata,
            )
        )
    return records


def load_diffcsp_sc(split: Split, root: str | Path | None = None, *, progress: bool = False) -> list[SuperconRecord]:
    """Load the DiffCSP-SC split of ordered SuperCon3D (615 / 201 / 201 rows).

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        root: Data root (or the ``DiffCSP-SC`` folder itself); default ``$MATGL_SUPERCON_DATA``.
        progress: Show a progress bar.

    Returns:
        Records with the CSV's ``name``, ``logtc`` and ``material_id`` in metadata.
    """
    folder = resolve_data_dir(root, "DiffCSP-SC")
    return _load_cif_text_table(folder / f"{split}.csv", tc_column="tc", progress=progress, desc=f"DiffCSP-SC {split}")


def load_perov5(split: Split, root: str | Path | None = None, *, progress: bool = False) -> list[SuperconRecord]:
    """Load the Perov-5 crystal-structure-prediction split (CDVAE/DiffCSP format; Tc is ``nan``).

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        root: Data root (or the ``Perov-5`` folder itself); default ``$MATGL_SUPERCON_DATA``.
        progress: Show a progress bar.

    Returns:
        Records keyed by ``material_id`` with ``formula`` and the property columns in metadata.
    """
    folder = resolve_data_dir(root, "Perov-5")
    path = folder / f"{split}.csv.gz"
    if not path.is_file():
        path = folder / f"{split}.csv"
    return _load_cif_text_table(path, tc_column=None, progress=progress, desc=f"Perov-5 {split}")


def load_table(
    path: str | Path,
    *,
    tc_column: str = "tc",
    structure_column: str = "cif",
    id_column: str | None = None,
    progress: bool = False,
) -> list[SuperconRecord]:
    """Load a user's CSV: one row per crystal, a Tc column and a CIF path or CIF text column.

    A value of ``structure_column`` that names an existing file (absolute, or relative to the CSV's
    folder) is read as a file; otherwise it must be CIF text.

    Args:
        path: The CSV file.
        tc_column: Column with Tc in K (must be positive and finite).
        structure_column: Column with a structure file path or CIF text.
        id_column: Column with row identifiers; default the row number.
        progress: Show a progress bar.

    Returns:
        One record per row; the other columns go to metadata.

    Raises:
        ValueError: Naming the file and row of a missing column, a bad Tc or an unreadable structure.
    """
    path = Path(path)
    table = pd.read_csv(path)
    for column in (tc_column, structure_column, id_column):
        if column is not None and column not in table.columns:
            raise ValueError(f"{path}: no column {column!r} (columns: {list(table.columns)})")
    records = []
    for row, item in _progress(list(table.iterrows()), progress, path.name):
        where = f"{path} row {row + 2}"
        value = str(item[structure_column])
        candidate = Path(value) if Path(value).is_absolute() else path.parent / value
        if "\n" not in value and len(value) < 4096 and candidate.is_file():
            structure = read_structure(candidate)
        elif "\n" in value:
            structure = read_structure(where, cif_text=value)
        else:
            raise ValueError(f"{where}: {structure_column}={value!r} is neither an existing file nor CIF text")
        metadata = {k: v for k, v in item.items() if k not in (tc_column, structure_column)}
        records.append(
            SuperconRecord(
                id=str(item[id_column]) if id_column else str(row),
                structure=structure,
                tc=_check_tc(item[tc_column], where),
                metadata=metadata,
            )
        )
    return records
