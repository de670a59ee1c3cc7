from __future__ import annotations

import math

import pytest
import torch
from pymatgen.core import Element

from matgl_supercon.graph import ALL_ELEMENTS
from matgl_supercon.models._embedding import (
    GROUND_STATE_COLUMNS,
    OLIYNYK_COLUMNS,
    OLIYNYK_TABLE,
    element_descriptors,
    ground_state_properties,
    oliynyk_properties,
    solid_properties,
)


def test_solid_properties_come_from_pymatgen():
    # log10 resistivity (ohm m), superconducting Tc (K; 0 where pymatgen lists none), metallic radius (A), bulk
    # modulus (GPa).
    nb = solid_properties("Nb")
    assert nb[0] == pytest.approx(math.log10(1.52e-7)) and nb[1:] == [9.25, 1.46, 170.0]
    assert solid_properties("Fe")[1] == 0.0
    oxygen = solid_properties("O")  # no solid data: missing, the table fills in the column median
    assert oxygen[1] == 0.0 and all(math.isnan(v) for v in (oxygen[0], oxygen[2], oxygen[3]))
    elements = ("H", "O", "Fe", "Nb", "Pb", "Cu")
    plain, solid = element_descriptors(elements, valence=True), element_descriptors(elements, True, solid=True)
    assert solid.shape == (6, plain.shape[1] + 4) and bool(torch.isfinite(solid).all())
    # The earlier columns and the block one-hot are unchanged; the elemental Tc orders Nb > Pb > the rest.
    assert torch.equal(solid[:, : plain.shape[1] - 4], plain[:, :-4]) and torch.equal(solid[:, -4:], plain[:, -4:])
    tc_column = solid[:, plain.shape[1] - 4 + 1]
    assert tc_column[3] > tc_column[4] > tc_column[5] and tc_column[5] == tc_column[0]


def test_ground_state_table_is_magpies():
    from matminer.utils.data import MagpieData

    magpie = MagpieData()
    for symbol in ALL_ELEMENTS:
        expected = [magpie.get_elemental_property(Element(symbol), name) for name in GROUND_STATE_COLUMNS]
        assert ground_state_properties(symbol) == pytest.approx(expected, rel=1e-12), symbol
    assert ground_state_properties("Fe")[2] == pytest.approx(2.1106628)  # bcc Fe's magnetic moment
    with pytest.raises(ValueError, match="Og: no row in .*magpie_ground_state.csv"):
        ground_state_properties("Og")
    everything = element_descriptors(tuple(ALL_ELEMENTS), valence=True, solid=True, ground_state=True)
    solid = element_descriptors(tuple(ALL_ELEMENTS), valence=True, solid=True)
    assert everything.shape == (len(ALL_ELEMENTS), solid.shape[1] + 5) and bool(torch.isfinite(everything).all())
    assert torch.equal(everything[:, : solid.shape[1] - 4], solid[:, :-4])


def test_oliynyk_table_holds_its_85_elements_with_their_published_values():
    rows = OLIYNYK_TABLE.read_text().splitlines()
    assert rows[0].split(",") == ["symbol", *OLIYNYK_COLUMNS] and len(rows) == 1 + 85
    column = {name: i for i, name in enumerate(OLIYNYK_COLUMNS)}
    copper, oxygen = oliynyk_properties("Cu"), oliynyk_properties("O")
    assert copper[column["Cohesive_energy"]] == pytest.approx(3.49)  # eV per atom
    assert copper[column["thermal_conductivity_(W/(m_K))_"]] == pytest.approx(401.0)
    assert oxygen[column["Metal"]] == 0.0 and copper[column["Metal"]] == 1.0
    # Beyond Bi only Th and U are listed: the others are all NaN, and the descriptor table fills in column medians.
    assert not any(math.isnan(v) for v in oliynyk_properties("U")[column["Metal"] :])
    assert all(math.isnan(v) for v in oliynyk_properties("Pu"))
    everything = element_descriptors(tuple(ALL_ELEMENTS), True, True, True, oliynyk=True)
    without = element_descriptors(tuple(ALL_ELEMENTS), True, True, True)
    assert everything.shape == (len(ALL_ELEMENTS), without.shape[1] + len(OLIYNYK_COLUMNS))
    assert bool(torch.isfinite(everything).all())
    # Each column is standardised on its own: the shared columns agree to rounding.
    assert torch.allclose(everything[:, : without.shape[1] - 4], without[:, :-4], atol=1e-6)
