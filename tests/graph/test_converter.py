from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from ase import Atoms
from hypothesis import example, given, settings
from hypothesis import strategies as st
from matgl.ext.pymatgen import Structure2Graph
from matgl.graph.data import MGLDataLoader, MGLDataset, collate_fn_graph
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from matgl_supercon.graph import (
    DISORDER_TYPES,
    OCCUPANCY_TOL,
    OccupancyStructure2Graph,
    atoms_to_structure,
    classify_disorder,
    nearest_k_mask,
    virtual_crystal,
)

ELEMENTS = ("B", "Na", "Mg", "Al", "Cl", "Br")


def convert(structure, **kwargs):
    kwargs.setdefault("element_types", ELEMENTS)
    kwargs.setdefault("cutoff", 3.0)
    return OccupancyStructure2Graph(**kwargs).get_graph(structure)[0]


def column(symbol: str) -> int:
    return ELEMENTS.index(symbol)


def test_mgb2_ordered_counts_and_ties(mgb2):
    graph = convert(mgb2, max_neighbors=None)
    src = graph.edge_index[0].numpy()
    assert np.bincount(src).tolist() == [12, 9, 9]
    assert graph.edge_index.shape[1] == 30
    # K = 4 would cut through 12 equidistant B around Mg and 6 Mg around B: ties keep them all.
    tied = convert(mgb2, max_neighbors=4)
    assert tied.edge_index.shape[1] == 30
    assert np.bincount(convert(mgb2, max_neighbors=3).edge_index[0].numpy()).tolist() == [12, 3, 3]
    assert torch.equal(graph.edge_weight, torch.ones(30))
    assert DISORDER_TYPES[int(graph.disorder)] == "ordered"
    assert graph.site_disorder.tolist() == [0, 0, 0]
    assert graph.pd_group.tolist() == [-1, -1, -1]


def test_substitutional_occupancy_vector(mg_al_b2):
    graph = convert(mg_al_b2)
    expected = torch.zeros(3, len(ELEMENTS))
    expected[0, column("Mg")], expected[0, column("Al")] = 0.9, 0.1
    expected[1:, column("B")] = 1.0
    assert torch.allclose(graph.occupancy, expected)
    assert torch.allclose(graph.vacancy, torch.zeros(3))
    assert graph.node_type.tolist() == [column("Mg"), column("B"), column("B")]
    assert torch.allclose(graph.edge_weight, torch.ones_like(graph.edge_weight))
    assert [DISORDER_TYPES[c] for c in graph.site_disorder] == ["SD", "ordered", "ordered"]
    assert DISORDER_TYPES[int(graph.disorder)] == "SD"


def test_vacancy_weights(mg_deficient_b2):
    graph = convert(mg_deficient_b2)
    assert graph.vacancy[0].item() == pytest.approx(0.02, abs=1e-6)
    src, dst = graph.edge_index
    touches_mg = (src == 0) | (dst == 0)
    assert torch.allclose(graph.edge_weight[touches_mg], torch.full((int(touches_mg.sum()),), 0.98))
    assert torch.allclose(graph.edge_weight[~touches_mg], torch.ones(int((~touches_mg).sum())))
    assert [DISORDER_TYPES[c] for c in graph.site_disorder] == ["vacancy", "ordered", "ordered"]
    assert DISORDER_TYPES[int(graph.disorder)] == "vacancy"


def test_positional_disorder_group_has_no_inner_edge(split_site):
    graph = convert(split_site, cutoff=4.5, max_neighbors=None)
    assert graph.pd_group.tolist() == [-1, 0, 0]
    assert [DISORDER_TYPES[c] for c in graph.site_disorder] == ["ordered", "PD", "PD"]
    assert DISORDER_TYPES[int(graph.disorder)] == "PD"
    src, dst = graph.edge_index
    offsets = graph.pbc_offset
    inner = (src == 1) & (dst == 2) & (offsets == 0).all(dim=1)
    assert not inner.any()
    # The two alternatives still see each other's copies in neighbouring cells (3.6 A away along c).
    assert ((src == 1) & (dst == 2)).any()
    assert torch.allclose(graph.edge_weight[(src == 1) & (dst == 2)], torch.tensor(0.25))
    na_to_cl = graph.edge_weight[(src == 0) & (dst > 0)]
    assert torch.allclose(na_to_cl, torch.full_like(na_to_cl, 0.5))


def test_short_bond_between_partial_sites_is_not_positional_disorder():
    # Two 0.9-occupied C sites 1.3 A apart cannot be alternatives of one atom (0.9 + 0.9 > 1).
    dimer = Structure(Lattice.cubic(5.0), [{"C": 0.9}, {"C": 0.9}], [[0, 0, 0], [0.26, 0, 0]])
    kind, sites = classify_disorder(dimer)
    assert kind == "vacancy"
    assert sites == ["vacancy", "vacancy"]


def test_spd_site(spd_site):
    graph = convert(spd_site, cutoff=4.5)
    assert [DISORDER_TYPES[c] for c in graph.site_disorder] == ["ordered", "SPD", "SPD"]
    assert DISORDER_TYPES[int(graph.disorder)] == "SPD"
    assert graph.occupancy[1, column("Cl")].item() == pytest.approx(0.25)
    assert graph.occupancy[1, column("Br")].item() == pytest.approx(0.25)
    assert graph.vacancy[1].item() == pytest.approx(0.5)


@pytest.mark.parametrize("fixture", ["mgb2", "mg_al_b2", "split_site", "spd_site"])
@pytest.mark.parametrize("max_neighbors", [None, 4, 10])
def test_supercell_gives_same_neighbourhoods(fixture, max_neighbors, request):
    structure = request.getfixturevalue(fixture)
    supercell = structure.copy()
    supercell.make_supercell([2, 1, 1])

    def multisets(s):
        converter = OccupancyStructure2Graph(element_types=ELEMENTS, cutoff=4.5, max_neighbors=max_neighbors)
        graph, lattice, _ = converter.get_graph(s)
        src, dst = graph.edge_index.numpy()
        cart = s.cart_coords
        vec = cart[dst] + graph.pbc_offset.numpy() @ lattice[0].numpy() - cart[src]
        dist = np.round(np.linalg.norm(vec, axis=1), 4)
        weight = np.round(graph.edge_weight.numpy(), 4)
        per_site = [
            sorted(zip(dist[src == i], weight[src == i], graph.node_type[dst[src == i]].tolist(), strict=True))
            for i in range(len(s))
        ]
        return [tuple(x) for x in per_site]

    small, big = multisets(structure), multisets(supercell)
    # pymatgen's make_supercell lists the two copies of each site next to each other.
    assert Counter(big) == Counter(small + small)


def test_ordered_graph_equals_matgl(mgb2):
    structure = mgb2.copy()
    structure.make_supercell([2, 2, 1])
    structure.perturb(0.05, min_distance=0.0)
    ours, lat_ours, state_ours = OccupancyStructure2Graph(ELEMENTS, cutoff=5.0, max_neighbors=None).get_graph(structure)
    ref, lat_ref, state_ref = Structure2Graph(ELEMENTS, cutoff=5.0).get_graph(structure)
    for key in ("edge_index", "pbc_offset", "node_type", "frac_coords"):
        assert torch.equal(getattr(ours, key), getattr(ref, key)), key
    assert torch.equal(lat_ours, lat_ref)
    assert np.array_equal(state_ours, state_ref)


def test_ordered_real_structures_equal_matgl(supercon3d):
    converter = OccupancyStructure2Graph(cutoff=5.0, max_neighbors=None)
    reference = Structure2Graph(converter.element_types, cutoff=5.0)
    ordered = [r.structure for r in supercon3d if r.structure.is_ordered][:40]
    for structure in ordered:
        ours, _, _ = converter.get_graph(structure)
        ref, _, _ = reference.get_graph(structure)
        assert torch.equal(ours.edge_index, ref.edge_index)
        assert torch.equal(ours.pbc_offset, ref.pbc_offset)
        assert torch.equal(ours.node_type, ref.node_type)


def test_ase_atoms_input(mgb2, mg_al_b2):
    atoms = AseAtomsAdaptor.get_atoms(mgb2)
    from_atoms = convert(atoms)
    from_structure = convert(mgb2)
    assert torch.equal(from_atoms.edge_index, from_structure.edge_index)
    disordered = Atoms(
        symbols=["Mg", "B", "B"],
        scaled_positions=mg_al_b2.frac_coords,
        cell=mg_al_b2.lattice.matrix,
        pbc=True,
        tags=[0, 1, 1],
    )
    disordered.info["occupancy"] = {"0": {"Mg": 0.9, "Al": 0.1}, "1": {"B": 1.0}}
    graph = convert(disordered)
    assert torch.allclose(graph.occupancy, convert(mg_al_b2).occupancy)
    broken = disordered.copy()
    broken.info["occupancy"] = {"0": {"Mg": 1.0}}
    with pytest.raises(ValueError, match="atom 1"):
        atoms_to_structure(broken)


def test_disordered_cifs_read_by_ase_keep_their_occupancies(mg_al_b2, tmp_path):
    # ASE's CIF reader keys info["occupancy"] by each atom's site kind (arrays["spacegroup_kinds"]); every tag is 0.
    import ase.io

    path = tmp_path / "MgAlB2.cif"
    mg_al_b2.to(filename=str(path))
    atoms = ase.io.read(path)
    assert set(atoms.get_tags()) == {0} and "spacegroup_kinds" in atoms.arrays
    from_ase, from_pymatgen = convert(atoms), convert(Structure.from_file(str(path)))
    assert torch.allclose(from_ase.occupancy, from_pymatgen.occupancy)
    assert torch.equal(from_ase.edge_index, from_pymatgen.edge_index)
    assert atoms_to_structure(atoms)[0].species.get_el_amt_dict() == pytest.approx({"Mg": 0.9, "Al": 0.1})


def test_bad_input_names_site_and_problem(mgb2):
    # pymatgen refuses such a Structure itself; ASE input reaches our own check.
    too_full = Atoms("Na", scaled_positions=[[0, 0, 0]], cell=np.eye(3) * 4.0, pbc=True)
    too_full.info["occupancy"] = {"0": {"Na": 0.7, "Cl": 0.4}}
    with pytest.raises(ValueError, match=r"atom 0 .*total occupancy 1\.1000 exceeds 1"):
        convert(too_full)
    with pytest.raises(ValueError, match=r"site 0 .*'Mg' is not in the converter's element list"):
        convert(mgb2, element_types=("B",))
    with pytest.raises(ValueError, match="no sites"):
        convert(Structure(Lattice.cubic(3.0), [], []))
    nan_coords = mgb2.copy()
    nan_coords.replace(1, "B", [np.nan, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"site 1 .*non-finite coordinates"):
        convert(nan_coords)
    with pytest.raises(ValueError, match="lattice has non-finite"):
        convert(Structure(Lattice(np.diag([np.nan, 3.0, 3.0])), ["Na"], [[0, 0, 0]]))
    lonely = Structure(Lattice.cubic(10.0), ["Na", "Cl"], [[0, 0, 0], [0.1, 0, 0]])
    lonely.append("Mg", [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"site 2 .*no neighbour within the 3.0 A cutoff"):
        convert(lonely)
    graph = convert(lonely, allow_isolated=True)
    assert (graph.edge_index[0] == 2).sum() == 0


def test_overlapping_atoms_are_refused_unless_allowed(mgb2, split_site):
    # Two atoms where there is room for one: an atom a CIF lists twice (exactly, or 0.01 A off), or a cell shorter
    # than its atoms, so that a site meets its own periodic image.
    listed_twice = mgb2.copy()
    listed_twice.append("Mg", [0.0025, 0, 0])
    with pytest.raises(
        ValueError,
        match=r"site 0 \(Mg at .*\) and site 3 \(Mg at .*\) are 0\.008 A apart .* 2\.000.*"
        "an atom listed twice",
    ):
        convert(listed_twice)
    exact = mgb2.copy()
    exact.append("B", mgb2[1].frac_coords)
    with pytest.raises(ValueError, match=r"site 1 .* and site 3 .* are 0\.000 A apart"):
        convert(exact)
    short = Structure(Lattice.from_parameters(4.0, 4.0, 0.45, 90, 90, 90), ["Mg"], [[0, 0, 0]])
    with pytest.raises(ValueError, match=r"site 0 .* and its periodic image are 0\.450 A apart .*a cell too short"):
        convert(short)
    # Alternative positions of one atom are not overlaps: their occupancies sum to at most 1 (the PD fixture's
    # two half Cl are 0.4 A apart), nor is a short real bond beyond 0.5 A (H2's 0.74 A).
    assert convert(split_site, cutoff=4.5).num_nodes == 3
    convert(Structure(Lattice.cubic(4.0), ["H", "H"], [[0, 0, 0], [0.185, 0, 0]]), element_types=("H",))
    # allow_overlaps=True takes the crystal as it is: the graph a permissive reading gives, the duplicate a site.
    graph = convert(listed_twice, allow_overlaps=True)
    assert graph.num_nodes == 4 and graph.occupancy[:, column("Mg")].sum() == pytest.approx(2.0)


def test_matgl_dataset_and_loader_accept_graphs(mgb2, mg_al_b2, mg_deficient_b2, split_site, tmp_path):
    structures = [mgb2, mg_al_b2, mg_deficient_b2, split_site]
    converter = OccupancyStructure2Graph(element_types=ELEMENTS, cutoff=4.0)
    dataset = MGLDataset(
        structures=structures,
        converter=converter,
        labels={"tc": [39.0, 30.0, 38.0, 1.0]},
        save_cache=False,
        root=str(tmp_path / "cache"),
    )
    _, val_loader = MGLDataLoader(
        train_data=dataset, val_data=dataset, collate_fn=collate_fn_graph, batch_size=4, num_workers=0
    )
    graph, lattice, _, labels = next(iter(val_loader))
    assert graph.num_graphs == 4
    assert graph.occupancy.shape == (12, len(ELEMENTS))
    assert graph.edge_weight.shape[0] == graph.edge_index.shape[1]
    assert graph.disorder.tolist() == [0, 1, 4, 2]
    assert lattice.shape == (4, 3, 3)
    assert labels.tolist() == [39.0, 30.0, 38.0, 1.0]


def test_summary_mentions_disorder(split_site):
    text = str(OccupancyStructure2Graph(element_types=ELEMENTS, cutoff=4.5).summary(split_site))
    assert "PD" in text
    assert "1 positional-disorder groups" in text


def test_k_cut_equals_full_search_then_cut(supercon3d):
    """The widening search finds exactly the edges of a full search followed by the K cut."""
    cut = OccupancyStructure2Graph(cutoff=8.0, max_neighbors=12)
    full = OccupancyStructure2Graph(cutoff=8.0, max_neighbors=None)
    picked = [r.structure for r in supercon3d[::40]]
    assert any(not s.is_ordered for s in picked)
    for structure in picked:
        ours, lattice, _ = cut.get_graph(structure)
        ref, _, _ = full.get_graph(structure)
        src, dst = ref.edge_index.numpy()
        cart = structure.cart_coords
        dist = np.linalg.norm(cart[dst] + ref.pbc_offset.numpy() @ lattice[0].numpy() - cart[src], axis=1)
        keep = nearest_k_mask(src, dist, len(structure), 12, 1e-4)
        expected = {
            (a, b, *img) for a, b, img in zip(src[keep], dst[keep], ref.pbc_offset.numpy()[keep].tolist(), strict=True)
        }
        got = {
            (a, b, *img) for a, b, img in zip(*ours.edge_index.numpy(), ours.pbc_offset.numpy().tolist(), strict=True)
        }
        assert got == expected


@settings(max_examples=25, deadline=None, derandomize=True)  # the same examples on every run
@example(mg=0.999, al=0.0)  # exactly at the vacancy tolerance (found by hypothesis)
@given(mg=st.floats(0.05, 1.0), al=st.floats(0.0, 1.0))
def test_occupancy_and_edge_weights_follow_any_site_occupancy(mg, al):
    al = min(al, 1.0 - mg)
    species = {"Mg": mg, "Al": al} if al > 1e-6 else {"Mg": mg}
    lattice = Lattice.hexagonal(3.086, 3.524)
    structure = Structure(lattice, [species, "B", "B"], [[0, 0, 0], [1 / 3, 2 / 3, 0.5], [2 / 3, 1 / 3, 0.5]])
    graph = convert(structure)
    total = mg + (al if al > 1e-6 else 0.0)
    assert graph.occupancy[0].sum().item() == pytest.approx(total, abs=1e-6)
    assert graph.vacancy[0].item() == pytest.approx(1 - total, abs=1e-6)
    src, dst = graph.edge_index
    expected = torch.where((src == 0) | (dst == 0), torch.tensor(total), torch.tensor(1.0))
    expected = torch.where((src == 0) & (dst == 0), torch.tensor(total**2), expected)
    assert torch.allclose(graph.edge_weight, expected.float(), atol=1e-6)
    kind = DISORDER_TYPES[int(graph.disorder)]
    if al > 1e-6:
        assert kind == "SD"
    else:
        # The converter's rule: a site is partly vacant when its occupancy is below 1 - OCCUPANCY_TOL.
        assert kind == ("vacancy" if total < 1 - OCCUPANCY_TOL else "ordered")


def test_degenerate_lattice_is_rejected_before_the_search():
    # A generator can emit a cell 0.1 mÅ thick; pymatgen's search would try to allocate ~200 GB for it.
    flat = Structure(Lattice([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 1e-4]]), ["Nb", "Nb"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(ValueError, match="degenerate lattice.*cells"):
        OccupancyStructure2Graph(cutoff=6.0, max_neighbors=None).get_graph(flat)
    huge = Structure(Lattice.cubic(5e4), ["Nb"], [[0, 0, 0]])  # an untrained generator's cell
    with pytest.raises(ValueError, match="degenerate lattice"):
        OccupancyStructure2Graph(cutoff=6.0, max_neighbors=None, allow_isolated=True).get_graph(huge)


def test_virtual_crystal_is_one_isolated_site_with_the_formula_fractions(mg_al_b2):
    crystal = virtual_crystal("Mg0.9Al0.1B2")
    assert len(crystal) == 1
    assert crystal.composition.fractional_composition.almost_equals(mg_al_b2.composition.fractional_composition)
    with pytest.raises(ValueError, match="has no neighbour within the 3.0 A cutoff"):
        convert(crystal)
    graph = convert(crystal, allow_isolated=True)
    assert graph.edge_index.shape == (2, 0)
    assert graph.occupancy[0, column("Mg")] == pytest.approx(0.9 / 3)
    assert graph.occupancy.sum() == pytest.approx(1.0)
    assert DISORDER_TYPES[int(graph.disorder)] == "SD"
    assert virtual_crystal("Nb").is_ordered
    with pytest.raises(ValueError, match="no atoms"):
        virtual_crystal({})
    # pymatgen reads an unknown symbol as a dummy species; a formula with one is refused, naming it.
    with pytest.raises(ValueError, match="'Xx' is not an element"):
        virtual_crystal("Xx2Mg")
    # Oxidation states (a decorated structure's composition) are elements with a charge, and stay.
    assert virtual_crystal(mg_al_b2.copy().add_oxidation_state_by_element({"Mg": 2, "Al": 3, "B": -2}).composition)


def test_settings_that_are_no_distance_are_refused():
    # A NaN cutoff passed a `cutoff <= 0` check, and the neighbour search never ended.
    for cutoff in (0.0, -3.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="cutoff must be a positive number of A"):
            OccupancyStructure2Graph(cutoff=cutoff)
    with pytest.raises(ValueError, match="pd_tolerance must be a finite distance"):
        OccupancyStructure2Graph(pd_tolerance=float("nan"))
    with pytest.raises(ValueError, match="tie_tolerance must be a finite distance"):
        OccupancyStructure2Graph(tie_tolerance=-0.1)
    with pytest.raises(ValueError, match="max_neighbors must be at least 1 or None, got 0"):
        OccupancyStructure2Graph(max_neighbors=0)
