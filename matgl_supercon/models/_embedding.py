"""Node and edge inputs of SODNet: occupancy-weighted element embeddings and occupancy-weighted radial bases."""

from __future__ import annotations

import csv
import functools
import math
import warnings
from pathlib import Path

import torch
from pymatgen.core import Element
from torch import nn

#: Elemental properties in the fixed descriptor table (pymatgen attribute names), plus an s/p/d/f block one-hot.
ELEMENT_PROPERTIES: tuple[str, ...] = (
    "Z",
    "row",
    "group",
    "X",
    "atomic_radius",
    "atomic_mass",
    "mendeleev_no",
    "melting_point",
    "ionization_energy",
    "electron_affinity",
    "molar_volume",
)
_BLOCKS = ("s", "p", "d", "f")
_SUBSHELL_SIZE = {"s": 2, "p": 6, "d": 10, "f": 14}
#: Columns added by :func:`valence_electrons` (Magpie's NsValence ... NUnfilled).
VALENCE_COLUMNS = 10
#: Properties of each element's own solid, as pymatgen's ``Element.data`` names them: whether it is a metal and
#: how soft its lattice is are what Tc depends on (Matthias; McMillan), and the elemental Tc itself. On SuperCon3D
#: they lower the composition forest's error by 0.008 ln K (``benchmarks/results/element_properties.md``).
SOLID_PROPERTIES: tuple[str, ...] = (
    "Electrical resistivity",
    "Superconduction temperature",
    "Metallic radius",
    "Bulk modulus",
)


#: Magpie's columns of each element's T = 0 K DFT ground state (OQMD volume per atom, band gap, magnetic moment, the
#: ground state's space group number) and its covalent radius, as ``GROUND_STATE_TABLE`` holds them (written from
#: matminer by ``benchmarks/make_element_table.py``; Ward et al., npj Comput. Mater. 2016). Beside the solid's
#: properties they lower the composition forest's error by 0.007 ln K more.
GROUND_STATE_COLUMNS: tuple[str, ...] = ("GSvolume_pa", "GSbandgap", "GSmagmom", "SpaceGroupNumber", "CovalentRadius")
GROUND_STATE_TABLE = Path(__file__).with_name("magpie_ground_state.csv")


#: Oliynyk et al.'s elemental properties (Chem. Mater. 28, 7324 (2016)), as ``OLIYNYK_TABLE`` holds them (written
#: from the copy ElementEmbeddings ships, Onwuli et al., Digital Discovery 2023, by
#: ``benchmarks/make_element_table.py``; its MIT licence is ``oliynyk_elements_LICENSE.txt``): radii (Miracle,
#: Zunger, ionic, crystal), five more electronegativity scales, metallic and Gilman valences, polarizability and each
#: element's thermal properties (boiling point, density, specific heat, heats of fusion, vaporisation and
#: atomisation, thermal conductivity, cohesive energy), which the lattice's stiffness and so the phonons follow.
#: Their 18 other columns (atomic number and weight, period, group, Mendeleev number, covalent radius, Pauling
#: electronegativity, valence and unfilled-shell counts, first ionisation energy, melting point) repeat the other
#: tables' and are left out (with all of them but the atomic number, 200 trees scored 0.490 ln K instead of 0.493:
#: ``benchmarks/results/forest_element_tables.md``). The table has 85 elements (H to Bi, Th, U); the others take the
#: column median (:func:`element_descriptors`).
OLIYNYK_COLUMNS: tuple[str, ...] = (
    "families",
    "Metal",
    "Nonmetal",
    "Metalliod",
    "l_quantum_number",
    "Atomic_Radius",
    "Miracle_Radius_[pm]",
    "Zunger_radii_sum",
    "ionic_radius",
    "crystal_radius",
    "MB_electonegativity",
    "Gordy_electonegativity",
    "Mulliken_EN",
    "Allred-Rockow_electronegativity",
    "metallic_valence",
    "gilmor_number_of_valence_electron",
    "outer_shell_electrons",
    "polarizability(A^3)",
    "Boiling_Point_(K)",
    "Density_(g/mL)",
    "specific_heat_(J/g_K)_",
    "heat_of_fusion_(kJ/mol)_",
    "heat_of_vaporization_(kJ/mol)_",
    "thermal_conductivity_(W/(m_K))_",
    "heat_atomization(kJ/mol)",
    "Cohesive_energy",
)
OLIYNYK_TABLE = Path(__file__).with_name("oliynyk_elements.csv")


@functools.cache
def _oliynyk_rows() -> dict[str, tuple[float, ...]]:
    with OLIYNYK_TABLE.open(newline="") as handle:
        return {
            row["symbol"]: tuple(float(row[c]) if row[c] else math.nan for c in OLIYNYK_COLUMNS)
            for row in csv.DictReader(handle)
        }


def oliynyk_properties(symbol: str) -> list[float]:
    """:data:`OLIYNYK_COLUMNS` of an element: NaN where the table has no value, or no row for the element."""
    return list(_oliynyk_rows().get(symbol, (math.nan,) * len(OLIYNYK_COLUMNS)))


@functools.cache
def _ground_state_rows() -> dict[str, tuple[float, ...]]:
    with GROUND_STATE_TABLE.open(newline="") as handle:
        return {row["symbol"]: tuple(float(row[c]) for c in GROUND_STATE_COLUMNS) for row in csv.DictReader(handle)}


def ground_state_properties(symbol: str) -> list[float]:
    """:data:`GROUND_STATE_COLUMNS` of an element (Å^3/atom, eV, Bohr magnetons, space group number, pm).

    Raises:
        ValueError: If the table has no row for the element.
    """
    rows = _ground_state_rows()
    if symbol not in rows:
        raise ValueError(f"{symbol}: no row in {GROUND_STATE_TABLE} (it holds the elements H to Lr)")
    return list(rows[symbol])


def solid_properties(symbol: str) -> list[float]:
    """:data:`SOLID_PROPERTIES` of an element: log10 resistivity (Ω m), Tc (K), metallic radius (Å), bulk modulus (GPa).

    pymatgen lists a superconducting transition only for the elements that have one at ambient pressure, so a
    missing Tc is 0 K; any other missing value is NaN (:func:`element_descriptors` fills in the column median).
    """
    data = Element(symbol).data
    values = [data.get(name) for name in SOLID_PROPERTIES]
    resistivity, tc, radius, modulus = (float(v) if isinstance(v, (int, float)) else math.nan for v in values)
    log_resistivity = math.log10(resistivity) if resistivity > 0 else math.nan
    return [log_resistivity, 0.0 if math.isnan(tc) else tc, radius, modulus]


def valence_electrons(symbol: str) -> list[float]:
    """Valence electrons per subshell and unfilled states, as Magpie counts them.

    Valence means every electron outside the noble-gas core of pymatgen's electronic structure
    (Ga ``[Ar].3d10.4s2.4p1``: s 2, p 1, d 10); a subshell with electrons counts its empty states as
    unfilled. Electron counts are the classical predictors of Tc (Matthias' rules).

    Returns:
        ``[Ns, Np, Nd, Nf, N, Ns_unfilled, Np_unfilled, Nd_unfilled, Nf_unfilled, N_unfilled]``.
    """
    filled = dict.fromkeys(_BLOCKS, 0.0)
    unfilled = dict.fromkeys(_BLOCKS, 0.0)
    for part in Element(symbol).electronic_structure.split("."):
        if part.startswith("["):
            continue  # the noble-gas core
        kind, count = part[1], float(part[2:])  # e.g. "3d10" -> d, 10 (no element has n >= 10)
        filled[kind] += count
        unfilled[kind] += _SUBSHELL_SIZE[kind] - count
    counts = [filled[b] for b in _BLOCKS]
    empty = [unfilled[b] for b in _BLOCKS]
    return [*counts, sum(counts), *empty, sum(empty)]


def element_descriptors(
    element_types: tuple[str, ...],
    valence: bool = False,
    solid: bool = False,
    ground_state: bool = False,
    oliynyk: bool = False,
) -> torch.Tensor:
    """Standardised elemental properties, one row per element.

    Missing values (e.g. the electronegativity of noble gases) take the column median, so that every
    element has a finite, comparable row; the table then gives unseen or rare elements a sensible
    position next to chemically similar ones, which a learned embedding alone cannot.

    Args:
        element_types: Element symbols.
        valence: Also add the valence-electron counts of :func:`valence_electrons`.
        solid: Also add the properties of each element's solid (:func:`solid_properties`).
        ground_state: Also add Magpie's DFT ground-state columns (:func:`ground_state_properties`).
        oliynyk: Also add Oliynyk et al.'s elemental properties (:func:`oliynyk_properties`).

    Returns:
        ``[len(element_types), n_properties + 4]`` float32 tensor: the standardised properties (``ELEMENT_PROPERTIES``,
        then those of each option, in the order of the arguments), then the s/p/d/f block one-hot.
    """
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns for each missing property
        for symbol in element_types:
            element = Element(symbol)
            values = []
            for name in ELEMENT_PROPERTIES:
                try:
                    value = getattr(element, name)
                    values.append(float(value) if value is not None else math.nan)
                except (AttributeError, TypeError, ValueError):
                    values.append(math.nan)
            if valence:
                values += valence_electrons(symbol)
            if solid:
                values += solid_properties(symbol)
            if ground_state:
                values += ground_state_properties(symbol)
            if oliynyk:
                values += oliynyk_properties(symbol)
            values += [float(element.block == b) for b in _BLOCKS]
            rows.append(values)
    table = torch.tensor(rows, dtype=torch.float64)
    n_props = table.shape[1] - len(_BLOCKS)
    props = table[:, :n_props]
    median = torch.nanmedian(props, dim=0).values
    props = torch.where(torch.isnan(props), median.expand_as(props), props)
    props = (props - props.mean(0)) / props.std(0).clamp_min(1e-8)
    table[:, :n_props] = props
    return table.float()


class OccupancyEmbedding(nn.Module):
    """Scalar node features from a site's occupancy vector.

    ``h = occ @ (E_learned + W F_fixed) + vacancy * v``, then a learned correction
    ``h + MLP([h, mixing, vacancy])`` where ``mixing = 1 - sum(occ^2) / total^2`` is zero on any
    single-species site; so a site {A: x, B: 1-x} tends continuously to pure A as x -> 1.
    """

    def __init__(
        self,
        element_types: tuple[str, ...],
        dim: int,
        learned: bool = True,
        valence: bool = False,
        solid: bool = False,
        ground_state: bool = False,
    ) -> None:
        super().__init__()
        self.register_buffer("descriptors", element_descriptors(element_types, valence, solid, ground_state))
        # Without a free per-element table the model only sees elements through their descriptors,
        # which generalises better to rare elements on small datasets.
        self.learned = nn.Parameter(torch.randn(len(element_types), dim) * 0.1) if learned else None
        self.project = nn.Linear(self.descriptors.shape[1], dim, bias=False)
        self.vacancy = nn.Parameter(torch.zeros(dim))
        self.correction = nn.Sequential(nn.Linear(dim + 2, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, occupancy: torch.Tensor, vacancy: torch.Tensor) -> torch.Tensor:
        """Embed ``[n, n_elements]`` occupancies and ``[n]`` vacancy fractions into ``[n, dim]``."""
        table = self.project(self.descriptors)
        if self.learned is not None:
            table = table + self.learned
        h = occupancy @ table + vacancy[:, None] * self.vacancy
        total = occupancy.sum(-1).clamp_min(1e-6)
        mixing = 1.0 - (occupancy**2).sum(-1) / total**2
        return h + self.correction(torch.cat([h, mixing[:, None], vacancy[:, None]], dim=-1))


class RadialBasis(nn.Module):
    """Gaussian radial basis times a smooth cosine cutoff."""

    def __init__(self, n_basis: int, cutoff: float) -> None:
        super().__init__()
        self.cutoff = cutoff
        self.register_buffer("centers", torch.linspace(0.0, cutoff, n_basis))
        self.width = cutoff / n_basis

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        """``[n_edges]`` distances to ``[n_edges, n_basis]`` features that vanish smoothly at the cutoff."""
        envelope = 0.5 * (torch.cos(math.pi * distance / self.cutoff) + 1.0) * (distance < self.cutoff)
        gauss = torch.exp(-(((distance[:, None] - self.centers) / self.width) ** 2))
        return gauss * envelope[:, None]


class PeriodicEmbedding(nn.Module):
    """Per-feature periodic embedding of a vector of scalars ("PLR", Gorishniy, Rubachev & Babenko, NeurIPS 2022).

    Each standardised feature ``z_j = (x_j - shift_j) / scale_j`` becomes
    ``ReLU(W_j [cos(2 pi c_j z_j), sin(2 pi c_j z_j)] + b_j)`` with ``n_frequencies`` learned frequencies
    ``c_j ~ N(0, sigma^2)`` of its own. An MLP on raw descriptor statistics learns smooth functions of each
    feature and lags a random forest on small tabular sets; these embeddings let it follow sharper, threshold-like
    dependences. On SuperCon3D's composition statistics (all/all, 10 folds) a plain MLP reaches 0.708 ln K against
    the forest's 0.629; with these embeddings 0.667, and three such networks averaged 0.641
    (``benchmarks/results/composition_mlp.md``).
    ``shift``/``scale`` are buffers set from the training set (:meth:`set_scaling`); ``z`` is clipped to
    +-``clip`` so a feature that is constant in training cannot blow up at test time.
    """

    def __init__(
        self, n_features: int, n_frequencies: int = 16, dim: int = 16, sigma: float = 1.0, clip: float = 5.0
    ) -> None:
        super().__init__()
        self.clip = clip
        self.register_buffer("shift", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.frequencies = nn.Parameter(torch.randn(n_features, n_frequencies) * sigma)
        self.weight = nn.Parameter(torch.randn(n_features, 2 * n_frequencies, dim) / math.sqrt(2 * n_frequencies))
        self.bias = nn.Parameter(torch.zeros(n_features, dim))
        self.out_dim = n_features * dim

    def set_scaling(self, shift: torch.Tensor, scale: torch.Tensor) -> None:
        """Standardise inputs with these per-feature means and (positive) standard deviations."""
        shift = torch.as_tensor(shift, dtype=self.shift.dtype)
        scale = torch.as_tensor(scale, dtype=self.scale.dtype)
        if shift.shape != self.shift.shape or scale.shape != self.scale.shape:
            raise ValueError(f"scaling needs {self.shift.numel()} values each, got {tuple(shift.shape)}")
        if not bool(torch.isfinite(shift).all() & (scale > 0).all()):
            raise ValueError("scaling: shifts must be finite and scales positive")
        self.shift.copy_(shift)
        self.scale.copy_(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, n_features]`` to ``[batch, n_features * dim]``."""
        z = ((x - self.shift) / self.scale).clamp(-self.clip, self.clip)
        angle = 2 * math.pi * self.frequencies * z[..., None]
        waves = torch.cat([torch.cos(angle), torch.sin(angle)], dim=-1)
        return torch.relu(torch.einsum("bnk,nkd->bnd", waves, self.weight) + self.bias).flatten(1)
