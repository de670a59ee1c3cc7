from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from matgl_supercon.data import (
    DATA_ENV_VAR,
    chemical_system,
    extra_training_records,
    in_new_chemical_systems,
    load_3dsc_mp,
    load_diffcsp_sc,
    load_jarvis_tc,
    load_perov5,
    load_supercon_formulas,
    load_table,
    read_structure,
    resolve_data_dir,
)
from matgl_supercon.graph import OccupancyStructure2Graph, classify_disorder


def test_supercon3d_counts(supercon3d):
    assert len(supercon3d) == 1578
    assert Counter(r.metadata["order"] for r in supercon3d) == {"order": 1016, "disorder": 562}
    assert sum(r.structure.is_ordered for r in supercon3d) == 1016
    # Our classifier agrees with the dataset's own order column on every structure.
    for record in supercon3d:
        kind, _ = classify_disorder(record.structure)
        assert (kind == "ordered") == (record.metadata["order"] == "order"), record.id
    assert all(r.tc > 0 for r in supercon3d)
    mgb2 = next(r for r in supercon3d if r.id == "671985")
    assert mgb2.tc == 39.0
    assert mgb2.ln_tc == pytest.approx(math.log(39.0))
    assert Counter(r.metadata["family"] for r in supercon3d)["h_based"] == 103


def test_supercon3d_converts_every_structure(supercon3d):
    # The converter refuses exactly the five CIFs with overlapping atoms that load_supercon3d's docstring names;
    # with allow_overlaps=True (as the paper's protocol needs) every structure converts.
    strict, as_published = OccupancyStructure2Graph(), OccupancyStructure2Graph(allow_overlaps=True)
    kinds, refused = Counter(), {}
    for record in supercon3d:
        try:
            strict.get_graph(record.structure)
        except ValueError as error:
            refused[record.id] = str(error)
        graph, _, _ = as_published.get_graph(record.structure)
        kinds[int(graph.disorder)] += 1
    assert sum(kinds.values()) == 1578
    assert kinds[0] == 1016
    assert sorted(refused) == ["151637", "195012", "Hf1H10", "Li1P2H14", "Zr1H10"]
    assert (
        "site 0 (Hf at" in refused["Hf1H10"] and "0.005 A apart with occupancies summing to 2.000" in refused["Hf1H10"]
    )


def test_3dsc_mp(data_root, supercon3d):
    records = load_3dsc_mp(data_root)
    assert len(records) == 5773
    assert sum(r.tc > 0 for r in records) == 3995
    # The extra training set for SuperCon3D folds (extra_training_records): superconductors in new chemical systems.
    extra = in_new_chemical_systems([r for r in records if r.tc > 0], supercon3d)
    assert len(extra) == 1720
    assert not {chemical_system(r.structure) for r in extra} & {chemical_system(r.structure) for r in supercon3d}
    assert sum(not r.structure.is_ordered for r in records) == 3435
    assert len({r.id for r in records}) == 5773
    assert {"formula_sc", "mp_id", "chemsys", "disorder_type"} <= set(records[0].metadata)


def test_supercon_formula_table(data_root, supercon3d):
    # Eight upstream formulas do not parse; by default the first one raises, naming file and row.
    with pytest.raises(ValueError, match=r"Supercon_data_by_2018_Stanev.csv row 2097: formula .*=z"):
        load_supercon_formulas(data_root)
    with pytest.warns(UserWarning, match=r"left out 8 rows: row 2097: .*row 4556: formula 'Sm1Ba-1Cu3O6.94'"):
        records = load_supercon_formulas(data_root, skip_invalid=True)
    assert len(records) == 16414 - 8
    assert records[0].formula == "Ba0.4K0.6Fe2As2" and records[0].tc == 31.2 and records[0].id == "2"
    assert records[0].composition["Fe"] == 2
    assert sum(r.tc > 0 for r in records) == 12440
    # The extra training set for SuperCon3D folds: the superconductors in chemical systems new to SuperCon3D.
    with pytest.warns(UserWarning, match="left out 8 rows"):
        extra = extra_training_records("formulas_new_systems", supercon3d, data_root)
    assert len(extra) == 7138
    assert all(r.metadata["virtual_crystal"] and len(r.structure) == 1 and r.tc > 0 for r in extra)
    # 944 of them are lightly doped copies of a SuperCon3D compound from a neighbouring system; min_distance drops them.
    with pytest.warns(UserWarning, match="left out 8 rows"):
        apart = extra_training_records("formulas_new_systems", supercon3d, data_root, min_distance=0.02)
    assert len(apart) == 6194
    kept = {r.metadata["formula"] for r in apart}
    assert {"Mg0.997Fe0.003B2", "B12Yb0.01Zr0.99"} <= {r.metadata["formula"] for r in extra} - kept


def test_formula_table_names_row_of_bad_tc(tmp_path):
    folder = tmp_path / "SuperCon"
    folder.mkdir()
    (folder / "Supercon_data_by_2018_Stanev.csv").write_text("name,Tc\nNb3Sn,18.1\nMgB2,hot\n")
    with pytest.raises(ValueError, match=r"row 3: Tc 'hot' is not a number"):
        load_supercon_formulas(tmp_path)


def test_jarvis(data_root):
    records = load_jarvis_tc(data_root)
    assert len(records) == 1056
    splits = Counter(r.metadata["leaderboard_split"] for r in records)
    assert splits == {"train": 556, "val": 30, "test": 30, None: 440}
    assert all(r.structure.is_ordered for r in records)
    assert "JVASP-18955" not in {r.id for r in records}


def test_diffcsp_sc_and_perov5(data_root):
    assert [len(load_diffcsp_sc(s, data_root)) for s in ("train", "val", "test")] == [615, 201, 201]
    test = load_perov5("test", data_root)
    assert len(test) == 3785
    assert all(len(r.structure) == 5 for r in test)
    assert math.isnan(test[0].tc)


def test_env_var_and_missing_folder(data_root, monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV_VAR, str(data_root))
    assert resolve_data_dir(None, "SuperCon3D") == data_root / "SuperCon3D"
    assert resolve_data_dir(data_root / "SuperCon3D", "SuperCon3D") == data_root / "SuperCon3D"
    monkeypatch.delenv(DATA_ENV_VAR)
    with pytest.raises(FileNotFoundError, match="MATGL_SUPERCON_DATA"):
        resolve_data_dir(None, "SuperCon3D")
    with pytest.raises(FileNotFoundError, match="github.com/aimat-lab/3DSC"):
        resolve_data_dir(tmp_path, "3DSC_MP")


def test_user_table(mgb2, tmp_path):
    mgb2.to(filename=str(tmp_path / "mgb2.cif"))
    text = mgb2.to(fmt="cif")
    pd.DataFrame({"name": ["a", "b"], "cif": ["mgb2.cif", text], "Tc": [39.0, 38.5]}).to_csv(
        tmp_path / "ok.csv", index=False
    )
    records = load_table(tmp_path / "ok.csv", tc_column="Tc", id_column="name")
    assert [r.id for r in records] == ["a", "b"]
    assert records[1].structure.composition.reduced_formula == "MgB2"
    pd.DataFrame({"cif": ["mgb2.cif", "mgb2.cif"], "tc": [39.0, -1.0]}).to_csv(tmp_path / "bad_tc.csv", index=False)
    with pytest.raises(ValueError, match=r"bad_tc.csv row 3: Tc -1.0"):
        load_table(tmp_path / "bad_tc.csv")
    pd.DataFrame({"cif": ["missing.cif"], "tc": [1.0]}).to_csv(tmp_path / "missing.csv", index=False)
    with pytest.raises(ValueError, match=r"missing.csv row 2: cif='missing.cif' is neither"):
        load_table(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="no column 'Tc'"):
        load_table(tmp_path / "missing.csv", tc_column="Tc")


def test_unreadable_cif_names_file_and_reason(tmp_path):
    bad = tmp_path / "overfull.cif"
    bad.write_text(
        "data_x\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n_cell_angle_alpha 90\n_cell_angle_beta 90\n"
        "_cell_angle_gamma 90\n_symmetry_space_group_name_H-M 'P 1'\nloop_\n_atom_site_label\n_atom_site_type_symbol\n"
        "_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n_atom_site_occupancy\n"
        "Na1 Na 0 0 0 0.7\nCl1 Cl 0 0 0 0.6\n"
    )
    with pytest.raises(ValueError, match=r"(?s)overfull.cif: cannot read structure.*sum to > 1"):
        read_structure(bad)


def test_a_cif_with_several_structures_is_refused(tmp_path, mgb2):
    # pymatgen's Structure.from_file returns the first and drops the rest; a file is one structure to us.
    from pymatgen.io.cif import CifWriter

    one = str(CifWriter(mgb2))
    two = tmp_path / "series.cif"
    two.write_text(one.replace("data_MgB2", "data_at_10K") + "\n" + one.replace("data_MgB2", "data_at_300K"))
    with pytest.raises(
        ValueError,
        match=r"series.cif: the CIF holds 2 structures \(its data blocks: data_at_10K, "
        r"data_at_300K\); one is read per file",
    ):
        read_structure(two)
    with pytest.raises(ValueError, match="table row 3: the CIF holds 2 structures"):
        read_structure("table row 3", cif_text=two.read_text())
    single = tmp_path / "MgB2.cif"
    single.write_text(one)
    assert read_structure(single) == mgb2 == read_structure("row", cif_text=one)


def test_formats_pymatgen_lacks_are_read_with_ase(tmp_path, mgb2):
    from ase import Atoms
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(mgb2)
    write(tmp_path / "MgB2.extxyz", atoms)
    from_ase = read_structure(tmp_path / "MgB2.extxyz")
    assert from_ase.composition == mgb2.composition
    np.testing.assert_allclose(from_ase.lattice.matrix, mgb2.lattice.matrix, atol=1e-8)
    np.testing.assert_allclose(from_ase.frac_coords, mgb2.frac_coords, atol=1e-8)
    # A trajectory is several structures: refused with their number, as a CIF with several data blocks is.
    write(tmp_path / "relax.traj", [atoms, atoms])
    with pytest.raises(ValueError, match=r"relax.traj: the file holds 2 structures \(frames\); one is read per file"):
        read_structure(tmp_path / "relax.traj")
    # A molecule is not a crystal; a file neither library reads says so, naming the file.
    write(tmp_path / "H2.xyz", Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]]))
    with pytest.raises(ValueError, match=r"H2.xyz: cannot read structure .*pbc is \(False, False, False\)"):
        read_structure(tmp_path / "H2.xyz")
    (tmp_path / "notes.abc").write_text("MgB2\n")
    with pytest.raises(ValueError, match=r"notes.abc: cannot read structure .*no reader for it, and ASE failed"):
        read_structure(tmp_path / "notes.abc")
    # A file pymatgen knows by name but cannot parse keeps pymatgen's reason, not ASE's.
    (tmp_path / "POSCAR").write_text("broken\n")
    with pytest.raises(ValueError, match=r"POSCAR: cannot read structure") as info:
        read_structure(tmp_path / "POSCAR")
    assert "ASE" not in str(info.value)
    with pytest.raises(
        ValueError, match=r"cannot read structure \(IsADirectoryError: .* is a folder; mgl-supercon screen"
    ):
        read_structure(tmp_path)
    with pytest.raises(ValueError, match=r"missing.xyz: cannot read structure \(FileNotFoundError: no such file"):
        read_structure(tmp_path / "missing.xyz")
