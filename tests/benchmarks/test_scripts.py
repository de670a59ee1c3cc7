"""The runner scripts under ``benchmarks/`` have no CLI tests of their own (they train for hours); these checks
catch a script that no longer imports and keep the shared report format honest."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from matgl_supercon.data import atom_fractions, chemical_system, paper_folds
from matgl_supercon.graph import virtual_crystal
from matgl_supercon.models import SODNet
from matgl_supercon.training import TrainConfig, run_configuration

SCRIPTS = Path(__file__).parents[2] / "benchmarks"


@pytest.mark.parametrize("name", sorted(p.stem for p in SCRIPTS.glob("[!_]*.py")))
def test_script_imports_and_has_main(name, benchmark_script):
    script = benchmark_script(name)
    assert callable(script.main)
    assert (script.__doc__ or "").strip(), f"benchmarks/{name}.py needs a docstring saying what it writes"


def test_report_files_carry_provenance(tmp_path, benchmark_script):
    report = benchmark_script("_report")
    meta = report.provenance("python benchmarks/x.py --data d", 1)
    assert meta["command"] == "python benchmarks/x.py --data d"
    assert "1 torch thread " in meta["machine"]
    assert "2 cores" in report.provenance("c", "2 cores")["machine"]
    lines = [*report.header_lines("Title", meta), "", "| a |", "|---|", "| 1 |"]
    report.write_report(tmp_path / "out", {"meta": meta, "rows": {"a": float("nan")}}, lines)
    text = (tmp_path / "out.md").read_text()
    assert text.startswith("# Title\n\nCommand: `python benchmarks/x.py --data d`  \nMachine: ")
    assert f"Date: {meta['date']}  \n" in text and text.endswith("| 1 |\n")
    assert json.loads((tmp_path / "out.json").read_text())["meta"] == meta
    assert not list(tmp_path.glob(".out*")), "temporary files must not be left behind"


def test_variant_workers_share_the_folds_and_pass_the_accelerator(benchmark_script):
    variants = benchmark_script("sodnet_variants")
    args = variants.argparse.Namespace(epochs=40, threads=1, accelerator="gpu", data="d")
    command = variants.variant_command("blocks3_composition_wide", [1, 5, 9], args)
    folds = command[command.index("--folds") + 1 : command.index("--epochs")]
    assert folds == ["1", "5", "9"]
    assert command[command.index("--accelerator") + 1] == "gpu"
    assert json.loads(command[command.index("--model") + 1])["n_blocks"] == 3
    assert command[-2:] == ["--data", "d"]
    assert "trained on gpu" in benchmark_script("_report").provenance("c", 1, "gpu")["machine"]
    copies = variants.variant_command("plus_formulas_and_virtual_copies", [0], args)
    assert copies[copies.index("--extra-data") + 1] == "formulas_new_systems" and "--virtual-copies" in copies
    tuned = variants.variant_command("formulas_pretrained_finetuned", [0], args)
    assert tuned[tuned.index("--init-runs") + 1] == "runs/sodnet_variants/blocks2_composition_plus_formulas_new_systems"
    assert "--extra-data" not in tuned  # fine-tuned on SuperCon3D alone
    per_fold = variants.variant_command(f"{variants.FORMULA_MEMORY}_per_fold", [0], args)
    assert per_fold[per_fold.index("--memory-scope") + 1] == "fold" and "--memory-data" in per_fold
    assert "--memory-scope" not in variants.variant_command(variants.FORMULA_MEMORY, [0], args)
    scoped = variants.variant_command("descriptors_only_ema0.995_plus_3dsc_held_out_compounds", [0], args)
    assert scoped[scoped.index("--extra-scope") + 1] == "compound" and "--extra-data" in scoped
    assert "--extra-scope" not in variants.variant_command("blocks2_composition_plus_3dsc_new_systems", [0], args)
    stateful = variants.variant_command("chgnet_state", [0], args)
    assert stateful[stateful.index("--state") + 1] == "chgnet"
    assert json.loads(stateful[stateful.index("--model") + 1])["state_dim"] == 66
    # The default variant is what SODNet() and TrainConfig() build, and its folds are the paper script's own.
    kwargs, train = variants.VARIANTS[variants.DEFAULT_VARIANT]
    as_variant = run_configuration(SODNet, kwargs, TrainConfig(**{**variants.TRAIN, **train}))
    assert as_variant == run_configuration(SODNet, {}, TrainConfig())
    default = variants.variant_command(variants.DEFAULT_VARIANT, [0], args)
    assert default[default.index("--results") + 1].endswith("results/supercon3d_sodnet")
    assert default[default.index("--runs") + 1] == "runs/supercon3d_sodnet"
    # The other rows change one thing of the base, pinned against later changes of the defaults.
    assert run_configuration(SODNet, variants.BASE, TrainConfig(**variants.TRAIN)) != as_variant


def test_forest_state_script_cuts_each_fold_with_its_own_seed_and_keeps_formula_rows_off_unseen_compounds(
    benchmark_script, monkeypatch
):
    script = benchmark_script("sodnet_forest_state")
    calls = []

    def state(x, y, train, held_out, extra, extra_rows, config, seed):
        calls.append((train, held_out, extra_rows, seed))
        return np.zeros((len(y), 2)), None

    monkeypatch.setattr(script, "out_of_fold_forest_state", state)

    records = [virtual_crystal(f) for f in ["MgB2", "Nb3Sn", "NbN", "YBa2Cu3O7"] * 5]
    formulas = ["MgB2", "Mg0.9Al0.1B2", "Nb3Ge", "V3Si"]
    data = SimpleNamespace(
        records=records,
        y=np.zeros(20),
        folds=paper_folds([f"id{i:02d}" for i in range(20)]),
        formula_systems=[chemical_system(virtual_crystal(f)) for f in formulas],
        formula_fractions=atom_fractions([virtual_crystal(f) for f in formulas]),
        formula_y=np.zeros(4),
    )
    script.fold_state(data, np.zeros((20, 1)), np.zeros((4, 1)), 3)
    train, val, test = data.folds[3]
    ((grown_on, held_out, extra_rows, seed),) = calls
    assert seed == 3 and grown_on.tolist() == train.tolist()
    assert held_out.tolist() == [*val.tolist(), *test.tolist()]
    # Rows of a compound the forest does not grow on stay out; its doping series and other compounds stay in.
    assert extra_rows(np.array([0])) == [1, 2, 3]
    assert extra_rows(np.array([1, 2])) == [0, 1, 2, 3]  # Nb3Ge shares Nb3Sn's structure type, not its compound


def test_chgnet_features_are_cached_per_id_and_dense_rows_filled(benchmark_script, mgb2, tmp_path, capsys):
    pytest.importorskip("chgnet")
    script = benchmark_script("supercon3d_sodnet")
    crushed = mgb2.copy()
    crushed.scale_lattice(mgb2.volume / 16)  # too dense for CHGNet: a NaN row, then the others' mean
    records = [SimpleNamespace(id=i, structure=s) for i, s in (("a", mgb2), ("b", mgb2), ("c", crushed))]
    path = tmp_path / "cache.npz"
    with pytest.warns(UserWarning, match="features are NaN"):
        features = script.cached_chgnet_features(records, path)
    assert "filled with column means for ['c']" in capsys.readouterr().out
    assert features[2].tolist() == pytest.approx(features[0].tolist())
    assert script.cached_chgnet_features(records, path).tolist() == features.tolist()  # read back, no warning
    # A cache of other ids is not used: the features are recomputed and the cache rewritten.
    assert script.cached_chgnet_features(records[:2], path).shape == (2, 66)
    with np.load(path) as cached:
        assert cached["ids"].tolist() == ["a", "b"]


def test_extra_training_arrays_give_formula_rows_composition_features_only(
    benchmark_script, mgb2, mg_al_b2, monkeypatch
):
    script = benchmark_script("supercon3d_baselines")
    crystals = [SimpleNamespace(structure=s, tc=t, metadata={}) for s, t in ((mgb2, 39.0), (mg_al_b2, 30.0))]
    formulas = [SimpleNamespace(structure=virtual_crystal("Nb3Sn"), tc=18.0, metadata={"virtual_crystal": True})]
    for records, kinds in ((crystals, ["c", "geo"]), (formulas, ["c"])):
        monkeypatch.setattr(script, "extra_training_records", lambda name, exclude, data, r=records: r)
        features, ln_tc, systems = script.extra_training_arrays("any", [], None)
        assert list(features) == kinds and all(len(x) == len(records) for x in features.values())
        assert ln_tc.tolist() == pytest.approx(np.log([r.tc for r in records]).tolist())
        assert systems == [script.chemical_system(r.structure) for r in records]


def test_forest_comparison_reads_sodnet_statistics_from_the_graphs(benchmark_script, mg_al_b2):
    script = benchmark_script("sodnet_vs_forest")
    model = script.SODNet(valence_descriptors=True)
    structures = [mg_al_b2, mg_al_b2 * (2, 1, 1)]
    graphs = script.graph_dataset(structures, [0.0, 0.0], model.make_converter())
    rows, amounts = script.sodnet_statistics(graphs)
    table = model.embedding.descriptors.numpy()
    fractions = {"Mg": 0.9 / 3, "Al": 0.1 / 3, "B": 2 / 3}
    mean = sum(f * table[model.element_types.index(e)] for e, f in fractions.items())
    assert rows.shape == (2, 4 * table.shape[1] + 2)
    assert rows[0, : table.shape[1]] == pytest.approx(mean, abs=1e-5)
    assert rows[1] == pytest.approx(rows[0], abs=1e-5)  # a supercell has the same composition
    assert rows[0, -2:] == pytest.approx([0.18 / 3, 0.0], abs=1e-6)  # mean site mixing (1 - 0.81 - 0.01), no vacancy
    assert amounts[1] == pytest.approx(2 * amounts[0])
    # The virtual compositions of the distillation row are scored with the same statistics as real graphs.
    assert script.statistics_of_amounts(amounts, rows[:, -2:]) == pytest.approx(rows, abs=1e-5)


def test_cross_validated_blend_picks_each_folds_weight_on_the_other_folds(benchmark_script):
    script = benchmark_script("sodnet_vs_forest")
    np = script.np
    ids = [f"s{i}" for i in range(12)]
    y = np.arange(12, dtype=float)
    folds = [(None, None, np.arange(k, k + 4)) for k in (0, 4, 8)]
    # "SODNet" is exact on folds 0-1 and 3 too high on fold 2; the forest is 1 too high on folds 0-1 and 0.5 on
    # fold 2. A blend with weight w on SODNet errs by 1 - w on folds 0-1 and by 0.5 + 2.5w on fold 2.
    sodnet = {ids[i]: y[i] + (3.0 if i >= 8 else 0.0) for i in range(12)}
    forest = {ids[i]: y[i] + (0.5 if i >= 8 else 1.0) for i in range(12)}
    result = script.shared_errors(sodnet, forest, ids, y, folds)
    assert result["blends"]["0.0"]["mae_mean"] == pytest.approx(2.5 / 3)
    assert result["blends"]["1.0"]["mae_mean"] == pytest.approx(1.0)
    assert result["blends"]["0.5"]["mae_mean"] == pytest.approx(2.75 / 3)
    assert result["error_correlation"] == pytest.approx(-1.0)
    # Folds 0 and 1 choose on a fold where SODNet is exact and fold 2 (total 1.5 + 1.5w): w = 0; fold 2 chooses on
    # folds 0-1 (total 2 - 2w): w = 1, and pays SODNet's error there.
    assert result["cross_validated_blend"]["weights"] == [0.0, 0.0, 1.0]
    assert result["cross_validated_blend"]["mae_mean"] == pytest.approx((1.0 + 1.0 + 3.0) / 3)


def test_forest_comparison_reads_committed_composition_retrieval_predictions(benchmark_script, tmp_path, monkeypatch):
    script = benchmark_script("sodnet_vs_forest")
    monkeypatch.setattr(script, "RESULTS", tmp_path)
    assert script.composition_retrieval_predictions() == {}  # no report: no partner
    row = script.COMPOSITION_RETRIEVAL_ROW
    assert row == benchmark_script("composition_retrieval").MEMORY_ROW  # the name that script writes
    folds = {"0": {"ids": ["a", "b"], row: {"y_pred": [1.0, 2.0]}}, "1": {"ids": ["c"], "RF": {"y_pred": [3.0]}}}
    (tmp_path / "composition_retrieval.json").write_text(script.json.dumps({"folds": folds}))
    assert script.composition_retrieval_predictions() == {"a": 1.0, "b": 2.0}  # fold 1 lacks the row


def test_distilled_mlp_is_reproducible_with_a_seed(benchmark_script, monkeypatch):
    script = benchmark_script("sodnet_vs_forest")
    monkeypatch.setattr(script, "VIRTUAL_COMPOSITIONS", 40)
    elements = script.SODNet().element_types
    na, be = elements.index("Na"), elements.index("Be")
    amounts = script.np.zeros((12, len(elements)))
    amounts[:, [na, be]] = script.np.random.default_rng(0).uniform(0.1, 1.0, (12, 2))  # Na-Be mixtures
    stats = script.statistics_of_amounts(amounts, script.np.zeros((12, 2)))
    y = amounts[:, na] / amounts.sum(1)
    train = script.np.arange(8)
    first = script.distilled_mlp(stats, amounts, y, train, seed=3).predict(stats[8:])
    again = script.distilled_mlp(stats, amounts, y, train, seed=3).predict(stats[8:])
    assert first.shape == (4,) and script.np.array_equal(first, again)  # seeded


def test_composition_head_alone_predicts_virtual_crystals(benchmark_script, mg_al_b2, tmp_path, monkeypatch):
    script = benchmark_script("composition_head_alone")
    assert "composition_head_plus_formulas_new_systems" in script.HEAD_VARIANTS
    records = {"a": SimpleNamespace(structure=mg_al_b2)}
    predictions = {"ids": ["a"], "y_true": [1.0], "y_pred": [1.5]}
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="fold_3/model: no trained fold model"):
        script.head_alone("v", 3, records, predictions)
    torch.manual_seed(0)
    model = SODNet(element_types=("B", "Mg", "Al"), cutoff=4.0, composition_head=True)
    model.save(tmp_path / "runs/sodnet_variants/v/all/fold_3/model")
    row = script.head_alone("v", 3, records, predictions)
    converter = model.make_converter(allow_isolated=True)
    head = float(model.eval().predict_graphs([converter.get_graph(virtual_crystal(mg_al_b2.composition))[:2]])[0])
    assert row["full_mae"] == pytest.approx(0.5)
    assert row["head_alone_mae"] == pytest.approx(abs(head - 1.0), abs=1e-6)
    assert row["structure_part_mean_abs"] == pytest.approx(abs(1.5 - head), abs=1e-6)


def test_learning_curve_subsets_are_nested_and_seeded_and_the_fit_recovers_a_known_curve(benchmark_script):
    curve = benchmark_script("learning_curve")
    train = np.arange(100, 180)
    small, large = curve.training_subset(train, 0.25, fold=3), curve.training_subset(train, 0.5, fold=3)
    assert len(small) == 20 and len(large) == 40 and set(small) <= set(large) <= set(train)
    assert np.array_equal(small, curve.training_subset(train, 0.25, fold=3))
    assert not np.array_equal(large, curve.training_subset(train, 0.5, fold=4))
    assert len(curve.training_subset(train, 1.0, fold=0)) == len(train)
    n = np.array([150, 300, 600, 1200, 2400])
    fit = curve.fit_curve(n.tolist(), curve.saturating_power_law(n, 8.0, 0.6, 0.3).tolist())
    assert fit["a"] == pytest.approx(8.0, rel=1e-3) and fit["c"] == pytest.approx(0.3, abs=1e-4)
    assert curve.saturating_power_law(fit["n_at_target"], 8.0, 0.6, 0.3) == pytest.approx(curve.TARGET, rel=1e-4)
    flat = curve.fit_curve(n.tolist(), curve.saturating_power_law(n, 8.0, 0.6, 0.55).tolist())
    assert flat["n_at_target"] is None  # its asymptote is above the target


def test_label_noise_matches_one_compound_however_written_and_scores_leave_one_out(benchmark_script):
    from pymatgen.core import Composition

    noise = benchmark_script("label_noise")
    assert noise.composition_key(Composition("YBa2Cu3O7")) == noise.composition_key(Composition("Y2Ba4Cu6O14"))
    assert noise.composition_key(Composition("YBa2Cu3O7")) != noise.composition_key(Composition("YBa2Cu3O6.5"))
    errors = noise.leave_one_out_errors([[1.0, 2.0, 3.0], [5.0], [0.0, 1.0]])
    assert errors.tolist() == pytest.approx([1.5, 0.0, 1.5, 1.0, 1.0])  # a lone measurement has no partner


def test_every_script_is_listed_on_the_benchmarks_page():
    page = (SCRIPTS / "README.md").read_text()
    scripts = [p.name for p in SCRIPTS.iterdir() if p.suffix in (".py", ".sh") and not p.name.startswith("_")]
    assert [name for name in scripts if f"`{name}`" not in page] == []


def test_composition_mlp_is_seeded_and_learns_a_threshold(benchmark_script, monkeypatch):
    script = benchmark_script("composition_mlp")
    monkeypatch.setattr(script, "EPOCHS", 30)
    x = torch.rand(96, 3, generator=torch.Generator().manual_seed(0)).double().numpy()
    y = np.where(x[:, 0] > 0.5, 3.0, 0.0) + 0.1 * x[:, 1]  # a step, as Tc jumps between families
    split = (np.arange(64), np.arange(64, 80), np.arange(80, 96))
    for periodic in (False, True):
        first = script.fit_predict(x, y, split, seed=2, periodic=periodic)
        assert np.array_equal(first, script.fit_predict(x, y, split, seed=2, periodic=periodic))
        assert np.mean(np.abs(first - y[80:])) < 0.5 * np.mean(np.abs(y[80:] - y[:64].mean()))


def test_every_variant_still_builds_what_its_results_record(benchmark_script):
    # The variants pin their base configuration; a changed default must not change what a row claims to be.
    variants = benchmark_script("sodnet_variants")
    checked = 0
    for name, (kwargs, train) in variants.VARIANTS.items():
        path = variants.results_dir(name) / "supercon3d_sodnet.json"
        if not path.exists():
            continue
        meta = json.loads(path.read_text())["meta"]
        asked = run_configuration(SODNet, kwargs, TrainConfig(**{**variants.TRAIN, **train}))
        for recorded, now in ((meta["model"], asked["model"]), (meta["config"], asked["training"])):
            shared = set(recorded) & set(now)
            assert {k: recorded[k] for k in shared} == {k: now[k] for k in shared}, name
        checked += 1
    assert checked >= 10


def test_leaderboard_marks_gnn_cells_trained_with_the_previous_defaults(tmp_path, benchmark_script):
    marked = benchmark_script("leaderboard").ran_with_previous_defaults
    for model, parameters, expected in [
        ("SODNet", {"ema_decay": 0.0}, True),
        ("MEGNet", {"lr": 0.002}, True),  # recorded before the weight average existed
        ("SODNet", {"ema_decay": 0.995}, False),
        ("RF-c", {"n_estimators": 500}, False),
    ]:
        cell = tmp_path / str(expected) / model
        cell.mkdir(parents=True)
        assert not marked(cell)  # no folds yet
        (cell / "fold_0.json").write_text(json.dumps({"parameters": parameters}))
        assert marked(cell) is expected, (model, parameters)


def test_leaderboard_labels_baseline_files_by_their_extra_data_and_scope(benchmark_script):
    label = benchmark_script("leaderboard").baseline_label
    assert label("supercon3d_baselines", "RF-c") == "RF-c (ours)"
    assert label("supercon3d_baselines_formulas_new_systems", "RF-c") == "RF-c + formulas_new_systems (ours)"
    compound = label("supercon3d_baselines_formulas_new_systems_per_compound", "RF-c")
    assert compound == "RF-c + formulas, all but the held-out compounds (ours)"
    assert label("supercon3d_baselines_formulas_new_systems_per_fold", "RF-c") is None
    assert label("supercon3d_baselines_svr_tuning", "RF-c") is None


def test_leaderboard_family_table_covers_every_structure_once(benchmark_script):
    from matgl_supercon.pretrained import pretrained_dir

    lines = benchmark_script("leaderboard").family_section(pretrained_dir("SODNet-SuperCon3D"))
    header = next(line for line in lines if line.startswith("| model"))
    counts = [int(column.rsplit("(", 1)[1].rstrip(") ")) for column in header.split("|")[3:-1]]
    assert sum(counts[:5]) == sum(counts[5:]) == 1578  # five families, then ordered and disordered
    rows = [line.split("|")[1:-1] for line in lines if line.startswith("| ") and line is not header]
    assert len(rows) > 2 and rows[0][0].strip().startswith("SODNet-SuperCon3D")
    for row in rows:
        values = [float(v.strip(" *")) for v in row[1:]]
        # The pooled MAE is the count-weighted mean of the families' and of the ordered and disordered MAEs.
        for first, last in ((2, 7), (7, 9)):
            pooled = np.dot(counts[first - 2 : last - 2], values[first - 1 : last - 1]) / 1578
            assert pooled == pytest.approx(values[0], abs=2e-3), row[0]


def test_composition_retrieval_restores_committed_folds_it_does_not_have(benchmark_script, tmp_path, monkeypatch):
    script = benchmark_script("composition_retrieval")
    monkeypatch.setattr(script, "RESULTS", tmp_path)
    row = {"mae": 0.5, "r2": 0.7, "seconds": 1.0, "y_pred": [1.0]}
    folds = {
        "0": {"ids": ["a"], "RF": row, script.MEMORY_ROW: row, script.DISTINCT_MEMORY_ROW: row},
        "1": {"ids": ["b"], "RF": row, script.TRAINED_ROW: row},
    }
    (tmp_path / "composition_retrieval.json").write_text(json.dumps({"folds": folds}))
    out = tmp_path / "runs"
    (out / "fold_1.json").parent.mkdir()
    (out / "fold_1.json").write_text(json.dumps({"ids": ["b"], "RF": {**row, "mae": 0.4}}))  # newer, kept
    script.restore_committed_folds(out)
    assert json.loads((out / "fold_0.json").read_text()) == {"ids": ["a"], "RF": row}
    assert json.loads((out / "memory_fold_0.json").read_text()) == row
    assert json.loads((out / "fold_1.json").read_text())["RF"]["mae"] == 0.4
    assert not (out / "memory_fold_1.json").exists()
    assert json.loads((out / "trained_fold_1.json").read_text()) == row and not (out / "trained_fold_0.json").exists()
    assert json.loads((out / "distinct_memory_fold_0.json").read_text()) == row


def test_forest_scripts_restore_committed_folds_they_do_not_have(benchmark_script, tmp_path):
    script = benchmark_script("forest_inputs")
    report, out = tmp_path / "report.json", tmp_path / "runs"
    script.restore_committed_folds(out, report)  # no committed report: nothing to restore
    assert not out.exists()
    report.write_text(json.dumps({"folds": {"0": {"ids": ["a"]}, "3": {"ids": ["b"]}}}))
    out.mkdir()
    (out / "fold_3.json").write_text(json.dumps({"ids": ["newer"]}))
    script.restore_committed_folds(out, report)
    assert script.finished_folds(out) == {0: {"ids": ["a"]}, 3: {"ids": ["newer"]}}


def test_model_card_says_when_the_memory_leaves_out_near_copies(benchmark_script):
    members = benchmark_script("_ensemble_members")
    card = benchmark_script("_model_card")
    distinct = benchmark_script("composition_retrieval").MEMBER_VARIANTS["distinct_memory"]
    # Since 2026-12-07 only the forests ship beside SODNet; an ensemble built with --variants may still add networks.
    assert members.SHIPPED_COMPOSITION_MEMBERS == (members.FOREST_VARIANT,)
    assert card.near_copy_lines(["composition_tc_formula_memory"]) == []
    assert "within 0.02" in " ".join(card.near_copy_lines([distinct]))


def test_model_card_tc_bands(benchmark_script):
    calibration = benchmark_script("_ensemble_calibration")
    ln_tc = np.log([0.05, 0.999, 1.0, 9.9, 10.0, 29.0, 30.0, 250.0])
    assert calibration.tc_bands(ln_tc).tolist() == [
        "Tc < 1 K",
        "Tc < 1 K",
        "1-10 K",
        "1-10 K",
        "10-30 K",
        "10-30 K",
        "Tc >= 30 K",
        "Tc >= 30 K",
    ]


def test_shipped_ensemble_weights_its_kinds_of_members_by_held_out_error(benchmark_script):
    members = benchmark_script("_ensemble_members")
    blending = benchmark_script("_ensemble_blend")
    calibration = benchmark_script("_ensemble_calibration")
    card = benchmark_script("_model_card")
    composition = next(iter(members.MEMBER_VARIANTS.values()))
    forest = members.FOREST_VARIANT
    assert [members.kind(n) for n in ("descriptors_only_ema0.995", composition, forest)] == list(members.KINDS)
    assert members.is_composition(forest) and not members.is_composition("descriptors_only_ema0.995")
    grid = blending.weight_grid(3)
    assert len(grid) == 231 and np.allclose(grid.sum(1), 1.0) and (grid >= 0).all()
    # Three folds of four structures, ln Tc 0; SODNet configurations "a" and "b" err by +1 and -1 on folds 0-1
    # (their mean is exact) and both by +4 on fold 2; the composition member errs by +1 everywhere. A composition
    # weight w errs by w on folds 0-1 and by 4 - 3w on fold 2.
    held_out = {}
    for i in range(12):
        k = i // 4
        a, b = (1.0, -1.0) if k < 2 else (4.0, 4.0)
        held_out[f"s{i}"] = (0.0, k, {"a": a, "b": b, composition: 1.0})
    weights, prediction, chosen = blending.blend(held_out)
    assert weights == {"SODNet": 0.0, "CompositionTc": 1.0}  # over all folds: 4 (2w + 4 - 3w) = 16 - 4w
    # The shipped ensemble's floor keeps SODNet in on every fold (the best weight is then the floor).
    floored, _, chosen_floored = blending.blend(held_out, blending.SODNET_WEIGHT_FLOOR)
    assert floored["SODNet"] == pytest.approx(blending.SODNET_WEIGHT_FLOOR) == pytest.approx(0.05)
    assert all(c["SODNet"] >= 0.05 - 1e-9 for c in chosen_floored)
    # Folds 0 and 1 pick on one exact fold and fold 2 (16 - 8w): w = 1; fold 2 picks on folds 0-1 (8w): w = 0,
    # and pays SODNet's error there.
    assert [c["CompositionTc"] for c in chosen] == [1.0, 1.0, 0.0]
    assert prediction["s0"] == pytest.approx(1.0) and prediction["s11"] == pytest.approx(4.0)
    # A forest member that errs by -1 on folds 0-1 and by 0 on fold 2: half forest and half composition member is
    # exact on folds 0-1, and the forest alone on fold 2.
    with_forest = {i: (t, k, {**p, forest: -1.0 if k < 2 else 0.0}) for i, (t, k, p) in held_out.items()}
    weights, prediction, chosen = blending.blend(with_forest)
    assert list(weights) == list(members.KINDS) and weights["SODNet"] == 0.0
    assert weights["CompositionForestTc"] == pytest.approx(0.5) and weights["CompositionTc"] == pytest.approx(0.5)
    # Fold 2 picks on folds 0-1, where every equal share of the two composition kinds is exact.
    assert chosen[2]["CompositionTc"] == pytest.approx(chosen[2]["CompositionForestTc"])
    # The card gives each kind's range of per-fold weights, a weight picked on every fold once.
    paragraph = card.blend_paragraph(
        {"SODNet": 0.05, "CompositionForestTc": 0.95},
        [{"SODNet": 0.05, "CompositionForestTc": 0.95}, {"SODNet": 0.1, "CompositionForestTc": 0.95}],
    )
    assert "each fold's weights were SODNet 0.05-0.10, CompositionForestTc 0.95)" in paragraph
    # The held-out spread weighs members as TcEnsemble does (unbiased for reliability weights): two members give
    # |d| / sqrt(2) whatever their weights; 1, -1, 0 weighted 2:1:1 have mean 0.25, weighted variance 0.6875 and
    # 1 - sum(w^2) = 0.625.
    assert calibration.held_out_spread({"a": 1.0, "b": -1.0}, {"a": 0.3, "b": 0.1}) == pytest.approx(2 / 2**0.5)
    three = calibration.held_out_spread({"a": 1.0, "b": -1.0, "c": 0.0}, {"a": 0.2, "b": 0.1, "c": 0.1})
    assert three == pytest.approx((0.6875 / 0.625) ** 0.5)
    # A forest's variance over its trees adds its weighted share: member a weighs 0.5 of the three.
    with_trees = calibration.held_out_spread(
        {"a": 1.0, "b": -1.0, "c": 0.0}, {"a": 0.2, "b": 0.1, "c": 0.1}, {"a": 0.4}
    )
    assert with_trees == pytest.approx((0.6875 / 0.625 + 0.5 * 0.4) ** 0.5)
    # The narrowest fifth of the spreads first.
    fifths = calibration.mae_by_spread_fifth(np.arange(10.0), np.arange(10.0)[::-1])
    assert fifths == [8.5, 6.5, 4.5, 2.5, 0.5]
    # Without composition members the prediction is the plain mean of the configurations.
    sodnet_only = {i: (t, k, {"a": p["a"], "b": p["b"]}) for i, (t, k, p) in held_out.items()}
    assert blending.blend(sodnet_only) == (
        {"SODNet": 1.0},
        {i: (p["a"] + p["b"]) / 2 for i, (_, _, p) in sodnet_only.items()},
        [{"SODNet": 1.0}] * 3,
    )


def test_distillation_students_keep_their_own_reports_and_run_folders(benchmark_script):
    script = benchmark_script("sodnet_distillation")
    variants = benchmark_script("sodnet_variants")
    assert all(name in variants.VARIANTS or name == variants.DEFAULT_VARIANT for name in script.STUDENTS.values())
    # The measured recipe's report (the leaderboard reads it) and folders from before students existed keep names.
    assert script.report_name(3, 40) == "sodnet_distillation"
    assert script.run_folder(6, 20, "default") == "variants6_epochs20"
    names = {script.report_name(3, 40, s) for s in script.STUDENTS} | {script.report_name(6, 20, "default")}
    assert len(names) == len(script.STUDENTS) + 1
    assert script.run_folder(3, 20, "formula_memory") == "formula_memory_variants3_epochs20"
    # Runs and reports taught by a forest other than the committed reports' get names of their own: those of the
    # forests shipped on 2026-12-06 afternoon, of the compound-scoped ones of that evening, and of the forests with
    # the leaf median shipped since that night.
    forest = benchmark_script("composition_forest")
    assert (
        script.run_folder(3, 20, "formula_memory", forest.MEAN_MEMBER_VARIANT)
        == "formula_memory_variants3_epochs20_solid_ground_state_teacher"
    )
    assert (
        script.report_name(3, 40, "default", f"{forest.MEAN_MEMBER_VARIANT}_compound")
        == "sodnet_distillation_variants3_epochs40_solid_ground_state_compound_teacher"
    )
    assert script.FOREST_VARIANT == forest.SHIPPED_VARIANT == f"{forest.MEMBER_VARIANT}_compound"
    assert (
        script.report_name(3, 40, "default", script.FOREST_VARIANT)
        == "sodnet_distillation_variants3_epochs40_solid_ground_state_median_compound_teacher"
    )


def test_forest_inputs_trees_route_missing_geometry_and_are_seeded(benchmark_script):
    script = benchmark_script("forest_inputs")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = np.where(x[:, 2] > 0, 2.0, -2.0)  # the target lives in the "geometry" column
    x_train = np.vstack([x, np.column_stack([rng.normal(size=(40, 2)), np.full(40, np.nan)])])  # formula rows
    y_train = np.concatenate([y, np.zeros(40)])
    x_test = np.array([[0.0, 0.0, 1.5], [0.0, 0.0, -1.5]])
    p, nodes = script.fit_predict(x_train, y_train, x_test, seed=3, threads=1)
    assert p[0] > 0.5 and p[1] < -0.5 and nodes > script.N_TREES
    assert np.array_equal(script.fit_predict(x_train, y_train, x_test, seed=3, threads=1)[0], p)
    group = {"mae": 0.5, "n": 2}
    summary = {"mae_mean": 0.5, "mae_sd": 0.01, "r2_mean": 0.7, "order": {"order": group, "disorder": group}}
    summary["family"] = {"cuprate": {"mae": 0.25, "n": 1}}
    assert script.table_row("x", summary, ["cuprate"]) == "| x | 0.500 ± 0.010 | 0.700 | 0.500 | 0.500 | 0.250 |"


def test_forest_learners_change_one_setting_each_and_are_seeded(benchmark_script):
    script = benchmark_script("forest_learners")
    inputs = benchmark_script("forest_inputs")
    assert len(set(script.ROWS)) == len(script.ROWS) and script.ROWS[0] == script.MEMBERS_ROW
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4))
    y = np.where(x[:, 0] > 0, 1.0, -1.0)
    x_test = np.array([[1.5, 0.0, 0.0, 0.0], [-1.5, 0.0, 0.0, 0.0]])
    p = script.boosting(x, y, x_test, seed=2)
    assert p[0] > 0.5 and p[1] < -0.5 and np.array_equal(script.boosting(x, y, x_test, seed=2), p)
    # Weighting rows moves the trees: the rows weighted 1,000 carry their label into the leaves around them.
    flipped = np.where(np.arange(80) < 40, -y, y)
    weight = np.where(np.arange(80) < 40, 1000.0, 1.0)
    plain = inputs.fit_predict(x, flipped, x_test, seed=1, threads=1)[0]
    weighted = inputs.fit_predict(x, flipped, x_test, seed=1, threads=1, sample_weight=weight)[0]
    assert not np.allclose(plain, weighted)
    every = inputs.fit_predict(x, y, x_test, seed=1, threads=1, max_features=1.0)[0]
    assert every[0] > 0.5 and every[1] < -0.5


def test_forest_scripts_share_one_comparison_table(benchmark_script, capsys):
    script = benchmark_script("forest_inputs")
    records = [
        SimpleNamespace(
            id=f"r{i}", metadata={"family": "cuprate" if i < 2 else "others", "order": ("order", "disorder")[i % 2]}
        )
        for i in range(4)
    ]
    y = np.array([0.0, 1.0, 2.0, 3.0])
    fold = {"ids": ["r0", "r1", "r2", "r3"]}
    per_fold = {}
    for k, (a, b) in enumerate([(0.5, 0.25), (0.5, 1.0)]):
        per_fold[k] = {
            **fold,
            "first": script.scored(y, y + a, k, "first"),
            "second": script.scored(y, y + b, k, "2nd"),
        }
    assert "fold 1 2nd: 1.000 ln K" in capsys.readouterr().out
    summary, lines = script.compared_table(
        per_fold, records, y, ("first", "second"), "row", {"n": {"first": "7", "second": "8"}}
    )
    assert [summary[n]["better_folds"] for n in ("first", "second")] == [0, 1]
    assert lines[0].endswith("| cuprate (4) | others (4) | n | folds better |")  # pooled over both folds
    assert lines[3].endswith("| 8 | 1 of 2 |") and lines[2].startswith("| first | 0.500 ± 0.000 |")


def test_forest_inputs_stack_sources_with_missing_geometry_and_a_computed_flag(benchmark_script):
    script = benchmark_script("forest_inputs")
    sources = {
        "supercon3d": {"statistics": np.ones((3, 2)), "geometry": np.full((3, 4), 2.0), "ln_tc": np.arange(3.0)},
        "formulas": {"statistics": np.zeros((2, 2)), "geometry": None, "ln_tc": np.array([7.0, 8.0])},
    }
    sources["supercon3d"]["computed"], sources["formulas"]["computed"] = False, True
    rows = {"supercon3d": np.array([2, 0]), "formulas": np.array([1])}
    x, y = script.training_set(sources, rows, with_geometry=True, flag_computed=True)
    assert y.tolist() == [2.0, 0.0, 8.0]
    assert x.shape == (3, 7) and np.isnan(x[2, 2:6]).all() and x[:, 6].tolist() == [0.0, 0.0, 1.0]
    x, _ = script.training_set(sources, rows, with_geometry=False, flag_computed=False)
    assert x.tolist() == [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]


def test_supercon3d_audit_measures_overlaps_and_formula_mismatch(benchmark_script, mgb2, split_site):
    script = benchmark_script("supercon3d_audit")
    assert script.formula_mismatch(mgb2, "Mg1B2") == pytest.approx(0.0)
    assert script.formula_mismatch(mgb2, "Al1B2") == pytest.approx(1 / 3)  # one atom in three changes element
    assert script.formula_mismatch(mgb2, "Mg1B2C1") == pytest.approx(0.25)
    assert script.overlapping_pairs(mgb2) == [] and script.overlapping_pairs(split_site) == []
    tripled = mgb2.copy()
    tripled.append("Mg", [0.001, 0, 0])
    tripled.append("Mg", [0, 0.001, 0])
    pairs = script.overlapping_pairs(tripled)  # each pair once, with its distance
    assert [(a, b) for a, b, _ in pairs] == [(0, 3), (0, 4), (3, 4)]
    assert pairs[0][2] == pytest.approx(0.00309, abs=1e-4)


def test_forest_variants_neighbours_skip_rows_of_the_same_compound(benchmark_script):
    script = benchmark_script("forest_variants")
    n = script.N_NEIGHBOURS + 4
    memory = np.zeros((n, 2))
    # Rows 0.1 apart; the last row is 0.01 from the one before it: the same compound at SAME_COMPOUND_DISTANCE.
    memory[:, 0] = [*(0.1 * np.arange(n - 1)), 0.1 * (n - 2) + 0.01]
    ln_tc = np.arange(n, dtype=float)
    systems = np.array([7, 7] + [1] * (n - 2))
    columns = script.neighbour_features(memory, systems, memory, ln_tc, systems)
    assert columns.shape == (n, 2 * script.N_LISTED + 1)
    # Row 0 does not see itself; its own system's row 1 is its nearest.
    assert columns[0, : script.N_LISTED].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert columns[0, script.N_LISTED] == pytest.approx(0.1)
    # Rows 1 and 3 are equally near row 2.
    assert sorted(columns[2, :2].tolist()) == [1.0, 3.0]
    # The last two rows hold one compound: neither reads the other's Tc.
    assert columns[-1, 0] == columns[-2, 0] == n - 3
    # A query outside the memory sees everything beyond SAME_COMPOUND_DISTANCE; the weighted mean lies within the
    # neighbours' range.
    query = script.neighbour_features(memory[:1] + 0.05, np.array([9]), memory, ln_tc, systems)
    assert query[0, : script.N_LISTED].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert 0.0 < query[0, -1] < script.N_NEIGHBOURS - 1
    # A query within SAME_COMPOUND_DISTANCE of row 0 does not see it.
    query = script.neighbour_features(memory[:1] + 0.005, np.array([9]), memory, ln_tc, systems)
    assert query[0, 0] == 1.0
    # With other chemical systems only, a query of system 7 sees rows of system 1 only.
    query = script.neighbour_features(memory[:1] + 0.05, np.array([7]), memory, ln_tc, systems, True)
    assert query[0, :2].tolist() == [2.0, 3.0]


def test_forest_variants_trimmed_mean_drops_the_extremes(benchmark_script):
    script = benchmark_script("forest_variants")
    per_tree = np.array([[0.0], [1.0], [2.0], [3.0], [100.0]])
    assert script.trimmed_mean(per_tree, cut=0.2).tolist() == [2.0]
    assert script.trimmed_mean(per_tree, cut=0.0).tolist() == [per_tree.mean()]


def test_make_pretrained_gate_picks_weights_per_band_of_tree_spread(benchmark_script):
    members = benchmark_script("_ensemble_members")
    blending = benchmark_script("_ensemble_blend")
    calibration = benchmark_script("_ensemble_calibration")
    composition, forest = next(iter(members.MEMBER_VARIANTS.values())), members.FOREST_VARIANT
    # Three folds of eight structures, ln Tc 0. Where the trees agree (sd 0.1) the forest is exact and SODNet errs
    # by 1; where they disagree (sd 1.0) SODNet is exact and the forest errs by 2. The composition member errs by 3.
    held_out, tree_sd = {}, {}
    for i in range(24):
        agree = i % 2 == 0
        held_out[f"s{i}"] = (0.0, i // 8, {"a": 1.0 if agree else 0.0, composition: 3.0, forest: 0.0 if agree else 2.0})
        tree_sd[f"s{i}"] = 0.1 if agree else 1.0
    gate, prediction, weights, per_fold = blending.gated_blend(held_out, tree_sd, bands=2)
    assert gate["edges"] == [pytest.approx(0.55)]
    assert gate["kind_weights"] == [
        {"SODNet": 0.0, "CompositionTc": 0.0, "CompositionForestTc": 1.0},
        {"SODNet": 1.0, "CompositionTc": 0.0, "CompositionForestTc": 0.0},
    ]
    assert len(per_fold) == 3 and all(f["kind_weights"] == gate["kind_weights"] for f in per_fold)
    assert all(p == pytest.approx(0.0) for p in prediction.values())  # each fold's gate, picked on the others
    assert weights["s1"]["SODNet"] == 1.0 and weights["s0"]["CompositionForestTc"] == 1.0
    assert blending.kind_means({"a": 1.0, "b": 3.0, forest: 2.0}) == {"SODNet": 2.0, "CompositionForestTc": 2.0}
    # One configuration holding all the weight has no spread between members, only its own variance.
    assert calibration.held_out_spread({"a": 1.0, forest: 5.0}, {"a": 0.0, forest: 1.0}, {forest: 0.25}) == 0.5


def test_make_pretrained_takes_retrained_configurations_from_their_runs(benchmark_script, tmp_path, monkeypatch):
    members = benchmark_script("_ensemble_members")
    monkeypatch.setattr(members, "member_dirs", lambda name: (tmp_path / "results" / name, tmp_path / "runs" / name))
    shipped = tmp_path / "shipped"
    for name in ("a", "b"):
        (tmp_path / "results" / name / "all").mkdir(parents=True)
        (shipped / f"{name}_fold_0").mkdir(parents=True)
        (shipped / f"{name}_fold_0" / "model.json").write_text("{}")
    configs = members.configurations(["a", "b"], shipped)
    assert all(c.shipped for c in configs.values())
    # "b" was retrained: its shipped members are out of date, so it comes from its runs, "a" still from the ensemble.
    configs = members.configurations(["a", "b"], shipped, from_runs=["b"])
    assert configs["a"].model("fold_0") == shipped / "a_fold_0"
    assert configs["b"].model("fold_0") == tmp_path / "runs" / "b" / "all" / "fold_0" / "model"


def test_formula_scope_counts_near_copies_and_bands_the_nearest_neighbours(benchmark_script):
    from matgl_supercon.data import SuperconRecord, atom_fractions, chemical_system

    script = benchmark_script("formula_scope")
    forest = benchmark_script("composition_forest")
    assert forest.scoped("x", "system") == "x" and forest.scoped("x", "compound") == "x_compound"
    assert set(script.ORDERED_SCOPES) <= set(script.SCOPES) and next(iter(script.SCOPES)) == "system"
    structures = [virtual_crystal(f) for f in ("MgB2", "Nb3Sn", "Mg0.9Al0.1B2", "NbN")]
    records = [SuperconRecord(f"r{i}", s, 10.0 * (i + 1)) for i, s in enumerate(structures)]
    formulas = [virtual_crystal(f) for f in ("Mg0.997Fe0.003B2", "Nb3Sn", "Mg0.5Al0.5B2")]
    data = script.FoldData(
        records=records,
        ids=[r.id for r in records],
        y=np.log([r.tc for r in records]),
        folds=[(np.array([2, 3]), np.array([1]), np.array([0])), (np.array([0, 1]), np.array([2]), np.array([3]))],
        formulas=formulas,
        formula_y=np.log([9.0, 18.0, 5.0]),
        formula_systems=[chemical_system(s) for s in formulas],
    )
    summary, lines = script.nearest_table(data, atom_fractions(records), atom_fractions(formulas))
    # MgB2 (fold 0's test) has a near copy in another system, 0.002 away; NbN's nearest formula row is far.
    assert summary["near_copies"]["n"] == 1
    assert summary["near_copies"]["gap_mean"] == pytest.approx(abs(np.log(10.0) - np.log(9.0)))
    formula_bands = {tuple(b["band"]): b["n"] for b in summary["bands"]["formula row"]}
    assert formula_bands[(1e-6, 0.02)] == 1 and formula_bands[(0.2, np.inf)] == 1
    assert sum(b["n"] for b in summary["bands"]["structure"]) == 2
    assert lines[0].startswith("| distance to the nearest") and len(lines) == 2 + len(script.BANDS)


def test_non_superconductors_sub_kelvin_column_scores_only_the_structures_below_1_k(benchmark_script):
    script = benchmark_script("non_superconductors")
    per_fold = {
        0: {"ids": ["cold", "warm"], **{name: {"y_pred": [0.5, 3.0]} for name in script.ROWS}},
        1: {"ids": ["colder"], **{name: {"y_pred": [-1.0]} for name in script.ROWS}},
    }
    per_fold[1][script.REFERENCE_ROW] = {"y_pred": [-3.0]}
    header, cells = script.sub_kelvin_cells(per_fold, {"cold": -0.5, "warm": 2.0, "colder": -2.0})
    assert header == "Tc < 1 K (2): MAE (bias)"
    assert cells[script.REFERENCE_ROW] == "1.000 (+0.00)"  # errors +1 and -1; the warm structure does not count
    assert all(cells[name] == "1.000 (+1.00)" for name in script.FLOOR_ROWS)


def test_make_pretrained_fits_one_spread_scale_per_predicted_tc_band(benchmark_script):
    calibration = benchmark_script("_ensemble_calibration")
    generator = np.random.default_rng(0)  # test data only; the package itself draws from torch.Generator
    edges = np.log(calibration.TC_BANDS_K)
    # 2,000 structures per predicted band, in 4 folds; the errors of band b are (b + 1) times wider than the spread.
    prediction = np.repeat([edges[0] - 1, *(edges[:-1] + np.diff(edges) / 2), edges[-1] + 1], 2000)
    band = np.digitize(prediction, edges)
    spread = np.full(len(prediction), 0.5)
    error = np.abs(generator.normal(size=len(prediction))) * 0.5 * (band + 1)
    fold = np.tile(np.arange(4), len(prediction) // 4)
    banded, sd, crossed = calibration.banded_sd_scale(error, spread, prediction, fold)
    assert banded["edges_ln_k"] == pytest.approx(edges.tolist()) and banded["bands"] == calibration.tc_band_names()
    # Each band's factor is the 68.3% quantile of |N(0, 1)| (about 1) times the band's width, and holds 68% there.
    assert banded["scales"] == pytest.approx([1.0, 2.0, 3.0, 4.0], rel=0.1)
    for b in range(4):
        assert np.mean(error[band == b] <= sd[band == b]) == pytest.approx(0.683, abs=0.01)
        assert np.mean(error[band == b] <= crossed[band == b]) == pytest.approx(0.683, abs=0.05)
    # One factor for all would cover the widest band's errors far less often.
    one = spread * calibration.fit_sd_scale(error, spread)
    assert np.mean(error[band == 3] <= one[band == 3]) < 0.5
    with pytest.raises(ValueError, match=r"no held-out prediction in the predicted-Tc band\(s\) \[3\]"):
        calibration.banded_sd_scale(error[band < 3], spread[band < 3], prediction[band < 3], fold[band < 3])


def test_forest_residuals_correct_by_the_near_neighbours_residuals_shrunk(benchmark_script):
    script = benchmark_script("forest_residuals")
    # One test compound; training rows at 0.02 (residual +1), 0.5 (beyond MAX_DISTANCE, residual +100).
    corrections = script.corrections(np.array([[0.02, 0.5]]), np.array([1.0, 100.0]))
    for name, (_, lam, alpha) in zip(script.ROWS[1:], script.SETTINGS, strict=True):
        # The near row weighs exp(0) = 1, the far one nothing: alpha * 1 / (1 + lambda).
        assert corrections[name].tolist() == pytest.approx([alpha / (1.0 + lam)])
    folds = {
        0: {name: {"mae": 0.5} for name in script.ROWS},
        1: {**{name: {"mae": 0.4} for name in script.ROWS}, script.ROWS[2]: {"mae": 0.3}},
        2: {**{name: {"mae": 0.6} for name in script.ROWS}, script.ROWS[2]: {"mae": 0.55}},
    }
    mean, _, taken = script.picked_on_other_folds(folds)
    # Folds 0 and 1 take the row best on the others (ROWS[2]); fold 2 takes it too (best on 0 and 1 together).
    assert taken == [script.ROWS[2]] * 3 and mean == pytest.approx((0.5 + 0.3 + 0.55) / 3)


def test_r2_conventions_score_ln_tc_and_kelvin_per_fold_and_pooled(benchmark_script):
    script = benchmark_script("r2_conventions")
    truth = [np.log([1.0, 10.0, 100.0]), np.log([2.0, 20.0])]
    perfect = script.scores([(t, t) for t in truth])
    assert perfect["mae"] == 0.0 and all(perfect[c] == pytest.approx(1.0) for c in script.CONVENTIONS)
    # Off by ln 2 on the hottest structure only: in kelvin that one error is 100 K, on ln Tc as small as any.
    shifted = script.scores([(truth[0], truth[0] + np.array([0.0, 0.0, np.log(2.0)])), (truth[1], truth[1])])
    assert shifted["mae"] == pytest.approx(np.log(2.0) / 6)
    assert shifted["R2 K, pooled"] < shifted["R2 ln, pooled"] < 1.0
    assert shifted["R2 ln, fold mean"] == pytest.approx((script.r2(truth[0], truth[0] + [0, 0, np.log(2.0)]) + 1) / 2)


def test_forest_target_encoding_leaves_out_near_rows_and_shrinks_to_the_mean(benchmark_script):
    script = benchmark_script("forest_target_encoding")
    # Three training rows over two elements: A (ln Tc 1), A0.5B0.5 (2), B (6); all-row mean 3.
    fractions = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    ln_tc = np.array([1.0, 2.0, 6.0])
    near = script.near_rows(fractions, fractions)
    assert [n.tolist() for n in near] == [[0], [1], [2]]  # each row is only near itself
    s = script.SHRINK_ROWS

    def shrunk(total: float, count: int) -> float:
        return (total + s * 3.0) / (count + s)

    encoded = script.target_encodings(fractions, ln_tc, fractions, near)
    # Row A leaves itself out: A is then held by the mixed row alone.
    assert encoded[0].tolist() == pytest.approx([shrunk(2.0, 1)] * 6)
    # The mixed row leaves itself out: A is held by row A alone, B by row B alone, the pair AB by no row.
    a, b = shrunk(1.0, 1), shrunk(6.0, 1)
    assert encoded[1].tolist() == pytest.approx([(a + b) / 2, a, b, 3.0, 3.0, 3.0])
    # A query that leaves nothing out sees every row: A in rows A and AB, the pair AB in the mixed row.
    whole = script.target_encodings(fractions, ln_tc, fractions[1:2], [np.array([], dtype=int)])
    a, b = shrunk(3.0, 2), shrunk(8.0, 2)
    assert whole[0].tolist() == pytest.approx([(a + b) / 2, a, b, *[shrunk(2.0, 1)] * 3])


def test_shipped_model_card_is_what_the_card_writer_writes_from_its_calibration(benchmark_script):
    """The card in the package is rebuilt text, not edited text: the card writer, given the shipped ensemble's
    calibration and members, writes it line for line (all but the build date)."""
    from matgl_supercon.benchmarks import mae, r2
    from matgl_supercon.graph import ALL_ELEMENTS
    from matgl_supercon.pretrained import pretrained_dir
    from matgl_supercon.pretrained.io import ENSEMBLE_JSON

    card, members = benchmark_script("_model_card"), benchmark_script("_ensemble_members")
    make_pretrained = benchmark_script("make_pretrained")
    shipped = pretrained_dir("SODNet-SuperCon3D")
    shipped_card = (shipped / "README.md").read_text().splitlines()
    calibration = json.loads((shipped / "calibration.json").read_text())
    command = shipped_card[-1].split("`")[1]
    variants = command.split("--variants ")[1].split(" --")[0].split()
    low_tc = command.split("--low-tc-members ")[1].split(" --")[0].split() if "--low-tc-members " in command else []
    configs = members.configurations(variants + low_tc, shipped)
    rows = []
    for name, config in configs.items():
        for k in range(10):
            result = json.loads((config.results / f"fold_{k}.json").read_text())
            truth, prediction = result["y_true"], result["y_pred"]
            scores = mae(truth, prediction), r2(truth, prediction)
            rows.append((f"{config.prefix}fold_{k}", name, *scores, result["epochs_run"]))
    elements = json.loads((shipped / ENSEMBLE_JSON).read_text())["training_elements"]
    size = float(next(line for line in shipped_card if "Total size" in line).split("Total size ")[1].split(" MB")[0])
    facts = card.CardFacts(
        name=shipped.name,
        command=command,
        members=rows,
        architectures={n: make_pretrained.architecture(shipped / f"{c.prefix}fold_0") for n, c in configs.items()},
        weights=calibration["kind_weights"],
        fold_weights=calibration["kind_weights_per_fold"],
        size_mb=size,
        absent_elements=[e for e in ALL_ELEMENTS if e not in elements],
        memory_names=[],
        shared_rows=0,
        shared_files=[],
    )
    written = "\n".join(card.card_lines(facts, calibration)).splitlines()
    assert written[:-1] == shipped_card[:-1]
    assert written[-1].startswith(f"Built by `{command}` on ")


def test_low_tc_gate_blends_where_the_forest_reads_cold_with_the_rule_picked_on_other_folds(benchmark_script):
    script = benchmark_script("_ensemble_blend")
    ensemble, forest = np.array([2.0, 2.0, 1.0]), np.array([-2.0, 0.0, 3.0])
    assert script.low_tc_gated(ensemble, forest, 0.5, 0.5).tolist() == [0.0, 1.0, 1.0]  # only below the threshold
    # Two folds: the truth is the forest's where it reads cold, the ensemble's elsewhere.
    truth = np.array([-2.0, 0.0, 1.0, -2.0, 0.0, 1.0])
    fold = np.array([0, 0, 0, 1, 1, 1])
    prediction, picks = script.low_tc_cross_fitted(truth, np.tile(ensemble, 2), np.tile(forest, 2), fold)
    # The first threshold above 0 with the forest alone below it: exact on both folds, each picked on the other.
    assert picks == [(0.2, 1.0), (0.2, 1.0)] and prediction.tolist() == truth.tolist()


def test_make_element_table_writes_the_shipped_oliynyk_table(benchmark_script) -> None:
    pytest.importorskip("elementembeddings")  # pip install --no-deps elementembeddings
    from matgl_supercon.models._embedding import OLIYNYK_TABLE

    assert benchmark_script("make_element_table").oliynyk_text() == OLIYNYK_TABLE.read_text()


def test_regime_ensemble_blends_each_regimes_folds_and_refuses_another_split(benchmark_script, tmp_path, monkeypatch):
    script = benchmark_script("regime_ensemble")
    rng = np.random.default_rng(0)
    folds, y_by_id = {}, {}
    for k in range(3):
        ids = [f"{k}-{j}" for j in range(20)]
        y = rng.normal(1.0, 1.0, 20)
        y_by_id.update(zip(ids, y.tolist(), strict=True))
        folds[k] = {
            "ids": ids,
            "forest": (y + rng.normal(0, 0.3, 20)).tolist(),
            "tree_variance": rng.uniform(0.01, 0.5, 20).tolist(),
            "low_tc": (y + rng.normal(0, 0.5, 20)).tolist(),
        }
    sodnet, reader = tmp_path / "sodnet", tmp_path / "reader"
    for k, fold in folds.items():
        for folder in (sodnet / "O", reader / "O"):
            folder.mkdir(parents=True, exist_ok=True)
            prediction = (np.array([y_by_id[i] for i in fold["ids"]]) + rng.normal(0, 0.6, 20)).tolist()
            (folder / f"fold_{k}.json").write_text(json.dumps({"ids": fold["ids"], "y_pred": prediction}))
    monkeypatch.setattr(script, "SODNET_RESULTS", sodnet)
    monkeypatch.setattr(script, "READER_RESULTS", tmp_path / "elsewhere")  # no reader folds there
    summary = script.score("O", folds, y_by_id)
    assert list(summary)[:4] == list(script.ROWS) and script.READER_ROW not in summary
    assert summary["n_structures"] == 60 and summary["forest"]["n_folds"] == 3
    monkeypatch.setattr(script, "READER_RESULTS", reader)  # the reader's folds, as --regime O writes them
    assert script.READER_ROW in script.score("O", folds, y_by_id)
    folds[1]["ids"] = folds[1]["ids"][::-1]  # another split's fold: its SODNet predictions belong to other structures
    with pytest.raises(ValueError, match="fold_1.json: its test ids differ"):
        script.score("O", folds, y_by_id)
