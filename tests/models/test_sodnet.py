from __future__ import annotations

import json
import os
import subprocess
import sys

import matgl
import numpy as np
import pytest
import torch
from e3nn import o3
from e3nn.util.test import assert_equivariant
from pymatgen.core import Lattice, Structure
from pymatgen.core.operations import SymmOp
from torch_geometric.data import Batch

from matgl_supercon.graph import virtual_crystal
from matgl_supercon.models import SODNet, read_state, share_retrieval_memory
from matgl_supercon.models._embedding import valence_electrons
from matgl_supercon.pretrained import load_model
from matgl_supercon.training import TrainConfig, graph_dataset, make_loader

ELEMENTS = ("B", "N", "O", "Na", "Mg", "Al", "Cl", "Cu", "Y", "Ba")
TINY = {
    "element_types": ELEMENTS,
    "cutoff": 4.0,
    "max_neighbors": 8,
    "irreps_node": "8x0e+4x1o+4x2e",
    "irreps_ffn": "16x0e+4x1o+4x2e",
    "n_blocks": 2,
    "n_heads": 2,
    "n_radial": 8,
    "radial_hidden": 8,
    "attention_hidden": 4,
    "readout_hidden": 16,
    "attention_dropout": 0.0,
}


@pytest.fixture
def model() -> SODNet:
    torch.manual_seed(0)
    m = SODNet(**TINY)
    m.set_target_scaling(1.5, 1.2)
    return m.eval()


@pytest.fixture
def low_symmetry() -> Structure:
    lattice = Lattice.from_parameters(4.1, 4.6, 5.3, 83, 97, 104)
    return Structure(
        lattice,
        ["Mg", {"Al": 0.7, "Mg": 0.3}, "B", {"N": 0.9}, "O"],
        [[0.05, 0.1, 0.0], [0.5, 0.45, 0.55], [0.3, 0.8, 0.2], [0.75, 0.2, 0.7], [0.15, 0.6, 0.85]],
    )


def tc(model, structure) -> float:
    return float(model.predict_structure(structure))


def test_invariances(model, low_symmetry):
    ref = tc(model, low_symmetry)
    rotated = low_symmetry.copy()
    axis = torch.randn(3, generator=torch.Generator().manual_seed(1)).numpy()
    rotated.apply_operation(SymmOp.from_axis_angle_and_translation(axis, 73.0))
    assert tc(model, rotated) == pytest.approx(ref, rel=1e-4)
    shifted = low_symmetry.copy()
    shifted.translate_sites(list(range(len(shifted))), [0.31, -0.12, 0.57])
    assert tc(model, shifted) == pytest.approx(ref, rel=1e-4)
    order = [3, 0, 4, 2, 1]
    permuted = Structure.from_sites([low_symmetry[i] for i in order])
    assert tc(model, permuted) == pytest.approx(ref, rel=1e-4)
    supercell = low_symmetry.copy()
    supercell.make_supercell([2, 1, 1])
    assert tc(model, supercell) == pytest.approx(ref, rel=1e-4)


def test_internal_features_are_equivariant(model, low_symmetry):
    graph, lattice, _ = model.make_converter().get_graph(low_symmetry)
    frac = graph.frac_coords

    def features(pos: torch.Tensor, lat: torch.Tensor) -> torch.Tensor:
        g = graph.clone()
        g.pos = pos
        g.pbc_offshift = g.pbc_offset @ lat
        return model.node_features(g)

    pos = frac @ lattice[0]
    irreps = o3.Irreps("1o")
    assert_equivariant(
        features, args_in=[pos, lattice[0].clone()], irreps_in=[irreps, irreps], irreps_out=model.irreps_node
    )


def test_mixed_site_tends_to_ordered(model):
    lattice = Lattice.hexagonal(3.086, 3.524)
    coords = [[0, 0, 0], [1 / 3, 2 / 3, 0.5], [2 / 3, 1 / 3, 0.5]]
    ordered = tc(model, Structure(lattice, ["Mg", "B", "B"], coords))
    gaps = [
        abs(tc(model, Structure(lattice, [{"Mg": x, "Al": 1 - x}, "B", "B"], coords)) - ordered)
        for x in (0.5, 0.9, 0.99, 0.999)
    ]
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[-1] < 1e-2 * max(gaps[0], 1e-3)
    assert gaps[0] > 0


def test_few_steps_lower_loss(supercon3d):
    records = [r for r in supercon3d if len(r.structure) <= 12][:8]
    assert len(records) == 8
    torch.manual_seed(0)
    kwargs = dict(TINY, element_types=tuple(sorted({el.symbol for r in records for el in r.structure.composition})))
    model = SODNet(**kwargs)
    ln_tc = np.log([r.tc for r in records])
    model.set_target_scaling(float(ln_tc.mean()), float(ln_tc.std()))
    dataset = graph_dataset([r.structure for r in records], ln_tc, model.make_converter())
    g, lat, _, labels = next(iter(make_loader(dataset, 8, shuffle=False)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=TrainConfig().lr)
    losses = []
    for _ in range(15):
        loss = (model(g, lat=lat) - labels).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert losses[-1] < 0.7 * losses[0]


def test_save_load_round_trip_in_fresh_process(model, low_symmetry, tmp_path):
    model.save(tmp_path / "sodnet")
    expected = tc(model, low_symmetry)
    loaded = matgl.load_model(tmp_path / "sodnet")
    assert isinstance(loaded, SODNet)
    assert tc(loaded.eval(), low_symmetry) == expected
    low_symmetry.to(filename=str(tmp_path / "s.cif"))
    code = (
        "import json, matgl; from pymatgen.core import Structure; "
        f"m = matgl.load_model({str(tmp_path / 'sodnet')!r}).eval(); "
        f"s = Structure.from_file({str(tmp_path / 's.cif')!r}); "
        "print(json.dumps([type(m).__name__, float(m.predict_structure(s))]))"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    name, value = json.loads(out.stdout.strip().splitlines()[-1])
    assert name == "SODNet"
    assert value == pytest.approx(expected, rel=1e-5)


def test_bad_irreps_rejected():
    with pytest.raises(ValueError, match="not divisible by 3 heads"):
        SODNet(**dict(TINY, n_heads=3))
    # A misspelt argument is an error, not a silent default (MatGL models take **kwargs; ours do not).
    with pytest.raises(TypeError, match="unexpected keyword argument 'num_blocks'"):
        SODNet(**dict(TINY, num_blocks=4))
    for change, message in (
        ({"lmax": -1}, "lmax must be at least 0, got -1"),
        ({"n_blocks": 0}, "n_blocks must be at least 1, got 0"),
        ({"n_heads": 0}, "n_heads must be at least 1, got 0"),
        ({"cutoff": float("nan")}, "cutoff must be a positive number of A, got nan"),
        ({"max_neighbors": 0}, "max_neighbors must be at least 1 or None, got 0"),
        ({"readout_dropout": 1.0}, r"readout_dropout must be in \[0, 1\), got 1.0"),
    ):
        with pytest.raises(ValueError, match=message):
            SODNet(**dict(TINY, **change))


def test_valence_electrons_follow_magpie():
    # Electrons outside the noble-gas core, per subshell, then the empty states of occupied subshells.
    assert valence_electrons("Ga") == [2, 1, 10, 0, 13, 0, 5, 0, 0, 5]
    assert valence_electrons("Pd") == [0, 0, 10, 0, 10, 0, 0, 0, 0, 0]
    assert valence_electrons("Fe") == [2, 0, 6, 0, 8, 0, 0, 4, 0, 4]
    assert valence_electrons("H") == [1, 0, 0, 0, 1, 1, 0, 0, 0, 1]


def test_options_change_the_model_and_survive_save_load(low_symmetry, tmp_path):
    torch.manual_seed(0)
    plain = SODNet(**TINY).eval()
    torch.manual_seed(0)
    options = {"valence_descriptors": True, "solid_descriptors": True, "ground_state_descriptors": True}
    richer = SODNet(**dict(TINY, **options, readout_dropout=0.2, composition_head=True)).eval()
    assert richer.embedding.descriptors.shape[1] == plain.embedding.descriptors.shape[1] + 10 + 4 + 5
    richer.save(tmp_path / "richer")
    loaded = matgl.load_model(tmp_path / "richer").eval()
    assert tc(loaded, low_symmetry) == tc(richer, low_symmetry)
    # Dropout is off in eval mode: predictions are repeatable.
    assert tc(richer, low_symmetry) == tc(richer, low_symmetry)


def test_composition_head_alone_predicts_a_virtual_crystal(low_symmetry):
    torch.manual_seed(0)
    model = SODNet(**dict(TINY, composition_head=True)).eval()
    converter = model.make_converter(allow_isolated=True)
    formula = virtual_crystal(low_symmetry.composition)
    graphs = [converter.get_graph(s)[:2] for s in (formula, low_symmetry)]
    before = model.predict_graphs(graphs)
    with torch.no_grad():
        model.readout[-1].bias.add_(1.0)  # shifts the structure part only
    after = model.predict_graphs(graphs)
    assert after[0] == pytest.approx(float(before[0]), abs=1e-6)
    assert after[1] == pytest.approx(float(before[1]) + 1.0, abs=1e-5)
    with torch.no_grad():
        model.composition_ln_tc[-1].bias.add_(0.5)
    assert model.predict_graphs(graphs) == pytest.approx((after + 0.5).tolist(), abs=1e-5)


def test_state_vector_is_standardised_checked_and_saved(low_symmetry, tmp_path):
    torch.manual_seed(0)
    model = SODNet(**dict(TINY, state_dim=2)).eval()
    model.set_state_scaling([10.0, -1.0], [5.0, 0.5])
    state = torch.tensor([[12.0, -0.5]])
    value = float(model.predict_structure(low_symmetry, state[0]))
    # The state reaches the readout: another state, another prediction.
    assert float(model.predict_structure(low_symmetry, [2.0, 0.0])) != pytest.approx(value)
    model.save(tmp_path / "stateful")
    loaded = matgl.load_model(tmp_path / "stateful").eval()
    assert loaded.state_mean.tolist() == [10.0, -1.0] and loaded.state_std.tolist() == [5.0, 0.5]
    assert float(loaded.predict_structure(low_symmetry, state[0])) == value
    with pytest.raises(ValueError, match="pass state_attr"):
        model.predict_structure(low_symmetry)
    with pytest.raises(ValueError, match=r"shape \(1, 3\), expected \(1, 2\)"):
        model.predict_structure(low_symmetry, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="row 0 has non-finite"):
        model.predict_structure(low_symmetry, [float("nan"), 0.0])
    with pytest.raises(ValueError, match="standard deviations positive"):
        model.set_state_scaling([0.0, 0.0], [1.0, 0.0])


def test_periodic_composition_encoding_is_scaled_invariant_and_saved(low_symmetry, tmp_path):
    torch.manual_seed(0)
    model = SODNet(**dict(TINY, composition_encoding="periodic", composition_head=True)).eval()
    other = Structure(Lattice.cubic(4.2), ["Cu", {"Y": 0.5, "Ba": 0.5}, "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]])
    graphs = [model.make_converter().get_graph(s)[0] for s in (low_symmetry, other)]
    model.set_composition_scaling(graphs)
    stats = model.graph_composition_statistics(graphs)
    assert torch.allclose(model.composition_encoder.shift, stats.mean(0))
    assert bool((model.composition_encoder.scale > 0).all())
    ref = tc(model, low_symmetry)
    supercell = low_symmetry.copy()
    supercell.make_supercell([2, 1, 1])
    assert tc(model, supercell) == pytest.approx(ref, rel=1e-4)
    model.save(tmp_path / "periodic")
    loaded = matgl.load_model(tmp_path / "periodic").eval()
    assert torch.equal(loaded.composition_encoder.shift, model.composition_encoder.shift)
    assert tc(loaded, low_symmetry) == ref
    with pytest.raises(ValueError, match="'linear' or 'periodic'"):
        SODNet(**dict(TINY, composition_encoding="fourier"))
    with pytest.raises(ValueError, match="composition_encoding='periodic'"):
        SODNet(**TINY).set_composition_scaling(graphs)


@pytest.mark.parametrize("query_encoding", [True, False])
def test_retrieval_reads_neighbours_labels_skips_itself_in_training_and_is_saved(
    low_symmetry, tmp_path, query_encoding
):
    torch.manual_seed(0)
    model = SODNet(**dict(TINY, retrieval_neighbors=2, retrieval_query_encoding=query_encoding)).eval()
    model.set_target_scaling(1.0, 2.0)
    others = [
        Structure(Lattice.cubic(4.2), ["Cu", {"Y": 0.5, "Ba": 0.5}, "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]]),
        Structure(Lattice.cubic(3.1), ["Mg", "B"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    ]
    structures = [low_symmetry, *others]
    graphs = [model.make_converter().get_graph(s)[0] for s in structures]
    with pytest.raises(ValueError, match="retrieval memory is empty"):
        tc(model, low_symmetry)
    model.set_retrieval_memory(graphs, [0.5, 3.0, 2.0])
    assert model.retrieval.memory_labels.tolist() == pytest.approx([-0.25, 1.0, 0.5])
    ref = tc(model, low_symmetry)
    # At prediction time a structure in the memory is its own nearest neighbour: its label reaches the prediction.
    model.set_retrieval_memory(graphs, [2.5, 3.0, 2.0])
    assert tc(model, low_symmetry) != pytest.approx(ref)
    supercell = low_symmetry.copy()
    supercell.make_supercell([2, 1, 1])
    assert tc(model, supercell) == pytest.approx(tc(model, low_symmetry), rel=1e-4)
    # In training mode a structure is not its own neighbour: its label does not reach its own prediction.
    pairs = model.graphs(structures)
    model.train()

    def train_forward() -> float:
        batch = Batch.from_data_list([pairs[0][0]])
        return float(model(batch, lat=pairs[0][1]).detach())

    before = train_forward()
    model.set_retrieval_memory(graphs, [9.0, 3.0, 2.0])
    assert train_forward() == pytest.approx(before, abs=1e-6)
    model.eval()
    model.save(tmp_path / "retrieval")
    loaded = matgl.load_model(tmp_path / "retrieval").eval()
    assert loaded.retrieval.memory_statistics.shape == (3, model.retrieval.memory_statistics.shape[1])
    assert tc(loaded, low_symmetry) == tc(model, low_symmetry)
    # At inference the memory's keys are cached; an in-place weight change (an optimiser step, load_state_dict)
    # must not leave them stale: the cached prediction equals one computed with gradients on (no cache). The
    # query is left out of the memory, so its neighbours' keys matter.
    loaded.set_retrieval_memory(graphs[1:], [3.0, 2.0])
    before = tc(loaded, low_symmetry)
    with torch.no_grad():
        loaded.retrieval.key[1].weight.mul_(1.5)
    cached = tc(loaded, low_symmetry)
    with torch.enable_grad():
        uncached = float(loaded(Batch.from_data_list([pairs[0][0]]), lat=pairs[0][1]).detach())
    assert np.log(cached) != pytest.approx(np.log(before), abs=1e-3)
    assert np.log(cached) == pytest.approx(uncached, abs=1e-6)
    model.set_retrieval_memory(graphs[1:], [3.0, 2.0])  # the same memory size, so the state loads
    assert tc(model, low_symmetry) == pytest.approx(before, rel=1e-6)
    model.load_state_dict(loaded.state_dict())
    assert tc(model, low_symmetry) == pytest.approx(cached, rel=1e-6)
    with pytest.raises(ValueError, match="retrieval_neighbors > 0"):
        SODNet(**TINY).set_retrieval_memory(graphs, [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="3 graphs need as many"):
        model.set_retrieval_memory(graphs, [0.0, 1.0])


def test_members_store_their_common_memory_rows_once_and_load_as_before(low_symmetry, tmp_path):
    shared = [
        Structure(Lattice.cubic(4.2), ["Cu", {"Y": 0.5, "Ba": 0.5}, "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]]),
        Structure(Lattice.cubic(3.1), ["Mg", "B"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        Structure(Lattice.cubic(3.5), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    ]
    own = [low_symmetry, Structure(Lattice.cubic(3.0), ["Al", "N"], [[0, 0, 0], [0.5, 0.5, 0.5]])]
    ensemble = tmp_path / "ensemble"
    before = {}
    for seed, (name, own_rows) in enumerate([("a", own[:1]), ("b", own), ("c", own[1:])]):
        torch.manual_seed(seed)
        model = SODNet(**dict(TINY, retrieval_neighbors=2)).eval()
        model.set_target_scaling(1.0 + seed, 2.0)
        graphs = [model.make_converter().get_graph(s)[0] for s in [*own_rows, *shared]]
        model.set_retrieval_memory(graphs, np.linspace(0.5, 3.0, len(graphs)) + seed)
        model.save(ensemble / name)
        before[name] = tc(model, low_symmetry)
    whole = load_model(ensemble).predict_ln_tc([low_symmetry])
    fingerprint = load_model(ensemble).fingerprint()
    members = [ensemble / n for n in "abc"]
    size = sum(f.stat().st_size for f in ensemble.rglob("state.pt"))
    assert share_retrieval_memory(members, ensemble / "shared_memory.pt") == len(shared)
    assert sum(f.stat().st_size for f in ensemble.rglob("state.pt")) < size
    # Each member folder is still a model folder: MatGL's loader puts its rows back; so does the ensemble loader.
    for name in "abc":
        loaded = matgl.load_model(ensemble / name)
        assert isinstance(loaded, SODNet) and tc(loaded, low_symmetry) == before[name]
    ensemble_model = load_model(ensemble)
    mean, sd = ensemble_model.predict_ln_tc([low_symmetry])
    assert torch.equal(mean, whole[0]) and torch.equal(sd, whole[1])
    assert ensemble_model.fingerprint() == fingerprint
    # Loading a member and saving it elsewhere gives a self-contained copy.
    matgl.load_model(ensemble / "a").save(tmp_path / "copy")
    assert not (tmp_path / "copy" / "shared_memory.json").exists()
    assert tc(matgl.load_model(tmp_path / "copy"), low_symmetry) == before["a"]
    # Sharing again (members already reference a file) reads them through it and changes nothing.
    assert share_retrieval_memory(members, ensemble / "shared_memory.pt") == len(shared)
    assert tc(matgl.load_model(ensemble / "b"), low_symmetry) == before["b"]
    # A shared file that holds other rows, or none, is an error naming the member.
    torch.save({"retrieval.memory_statistics": torch.zeros(3, 62)}, tmp_path / "other.pt")
    (ensemble / "shared_memory.pt").replace(tmp_path / "kept.pt")
    with pytest.raises(FileNotFoundError, match=r"ensemble/a: 3 rows of its retrieval memory are in .*missing"):
        read_state(ensemble / "a")
    (tmp_path / "other.pt").replace(ensemble / "shared_memory.pt")
    with pytest.raises(ValueError, match="does not hold the 3 memory rows this model was saved with"):
        read_state(ensemble / "a")
    torch.save({}, ensemble / "shared_memory.pt")
    with pytest.raises(ValueError, match=r"holds no such rows"):
        read_state(ensemble / "a")
    # Models without a common tail share nothing; a model without a memory, or a single model, is refused.
    (tmp_path / "kept.pt").replace(ensemble / "shared_memory.pt")
    plain = SODNet(**TINY)
    plain.save(tmp_path / "plain")
    with pytest.raises(ValueError, match="plain: has no retrieval memory"):
        share_retrieval_memory([ensemble / "a", tmp_path / "plain"], tmp_path / "x.pt")
    with pytest.raises(ValueError, match="at least two models"):
        share_retrieval_memory([ensemble / "a"], tmp_path / "x.pt")
    torch.manual_seed(5)
    lone = SODNet(**dict(TINY, retrieval_neighbors=2))
    lone.set_retrieval_memory([lone.make_converter().get_graph(s)[0] for s in own], [1.0, 2.0])
    lone.save(tmp_path / "lone")
    assert share_retrieval_memory([ensemble / "a", tmp_path / "lone"], tmp_path / "x.pt") == 0
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "lone" / "shared_memory.json").exists()


def test_read_only_memory_rows_are_hidden_from_training_queries_of_their_chemical_system(low_symmetry):
    torch.manual_seed(0)
    model = SODNet(**dict(TINY, retrieval_neighbors=2))
    model.set_target_scaling(1.0, 2.0)
    # Another stoichiometry of the query's elements (Mg-Al-B-N-O), and a structure of another system.
    sibling = Structure(
        low_symmetry.lattice, ["Mg", {"Al": 0.2, "Mg": 0.8}, "B", {"N": 0.5}, "O"], low_symmetry.frac_coords
    )
    other = Structure(Lattice.cubic(3.1), ["Mg", "B"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    graphs = [model.make_converter().get_graph(s)[0] for s in (low_symmetry, sibling, other)]
    query = Batch.from_data_list([graphs[0]])
    lattice = model.graphs([low_symmetry])[0][1]

    def reads(labels: list[float], flags: list[bool] | None, row: int, training: bool = True) -> bool:
        """Whether changing the label of memory row ``row`` changes the query's prediction."""
        model.train(training)
        outputs = []
        for change in (0.0, 4.0):
            changed = [v + change if i == row else v for i, v in enumerate(labels)]
            model.set_retrieval_memory(graphs, changed, cross_system_only=flags)
            outputs.append(float(model(query, lat=lattice).detach()))
        return abs(outputs[1] - outputs[0]) > 1e-6

    labels = [9.0, 3.0, 2.0]
    # The query itself (row 0) is skipped in training; the sibling and the other system are read.
    assert not reads(labels, None, 0) and reads(labels, None, 1) and reads(labels, None, 2)
    flags = [False, True, True]  # rows 1 and 2 read-only, as a formula table in the memory
    assert not reads(labels, flags, 1)  # same chemical system: hidden in training
    assert reads(labels, flags, 2)  # another system: read
    assert reads(labels, flags, 1, training=False)  # at prediction every row is read
    # The flags are training state: not saved with the model.
    assert not any("system" in key for key in model.state_dict())
    with pytest.raises(ValueError, match="cross_system_only needs 3 flags"):
        model.set_retrieval_memory(graphs, labels, cross_system_only=[True, False])
