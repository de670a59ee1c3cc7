"""Map model names to the weights shipped in this folder; everything else goes to ``matgl.load_model``."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import matgl

from matgl_supercon.models._shared_memory import read_state
from matgl_supercon.models._tc_model import OccupancyTcModel
from matgl_supercon.models.ensemble import ForestSpreadGate, LowTcGate, TcEnsemble

_HERE = Path(__file__).parent
#: File of an ensemble folder that weights its members (``{"member_weights": {member folder name: weight}}``), and
#: may name subsets of them with their own weights and spread scale
#: (``"subsets": {name: {"member_weights": {...}, "sd_scale": s}}``, and ``"sd_scale_by_predicted_tc": {"edges_ln_k":
#: [...], "scales": [...]}`` as in ``calibration.json``) and the elements the members' training data held
#: (``"training_elements": [...]``, :meth:`TcEnsemble.unseen_elements`). ``"gate": {"edges": [...], "member_weights":
#: [{member folder name: weight}, ...]}`` weights the whole ensemble per band of its forests' tree spread instead
#: (:class:`~matgl_supercon.models.ensemble.ForestSpreadGate`); its ``member_weights`` are then the ungated blend.
#: ``"low_tc_gate": {"members": [member folder name, ...], "threshold": t, "weight": w}`` gives that group of members
#: a share of the prediction where it reads cold (:class:`~matgl_supercon.models.ensemble.LowTcGate`); a subset
#: may hold its own (over its members). ``"state_from_forests": [member folder name, ...]`` names the members (SODNet
#: with ``state_dim=1``) that read the forests' mean ln Tc as their state (``TcEnsemble``'s ``state_from_forests``).
ENSEMBLE_JSON = "ensemble.json"
#: Constructor arguments that only set buffers of the weights, which members of one architecture may differ in.
SCALING_ARGS = ("target_mean", "target_std", "state_mean", "state_std")
#: The subset of the shipped ensemble that reads compositions only: ``load_model(name, members=COMPOSITION_MEMBERS)``.
COMPOSITION_MEMBERS = "composition"


def pretrained_dir(name: str) -> Path:
    """Folder of a shipped model (it holds one MatGL model folder per ensemble member and a model card)."""
    return _HERE / name


def available_models() -> list[str]:
    """Names accepted by :func:`load_model`."""
    # Hidden folders are builds in progress (benchmarks/make_pretrained.py), not models.
    return sorted(
        p.name for p in _HERE.iterdir() if p.is_dir() and not p.name.startswith(".") and any(p.glob("*/model.json"))
    )


def load_model(name_or_path: str | Path = "SODNet-SuperCon3D", members: str = "all") -> TcEnsemble:
    """Load a shipped ensemble by name, or any saved Tc model folder(s) by path, offline.

    Args:
        name_or_path: A name from :func:`available_models`; a folder saved by ``SODNet.save`` (or
            ``CompositionTc.save``, ``CompositionForestTc.save``); or a folder whose subfolders are such model folders
            (an ensemble).
        members: ``"all"``, or a subset that the folder's ``ensemble.json`` names, with its own weights and spread
            scale: the shipped ensemble has ``"composition"`` (:data:`COMPOSITION_MEMBERS`), its composition members
            alone, several times faster and blind to the structure (its model card gives their held-out score).

    Returns:
        A :class:`TcEnsemble` (of one model for a single folder), with the spread scale of the folder's
        ``calibration.json`` and the member weights and training elements of its ``ensemble.json`` when it has them.

    Raises:
        ValueError: For a name that is neither shipped nor a folder, listing the shipped names; for an
            ``ensemble.json`` that does not weight exactly the folder's members; for a subset the folder does not
            name, or one that names a member folder it lacks.
    """
    path = Path(name_or_path)
    if not path.exists():
        if str(name_or_path) not in available_models():
            raise ValueError(
                f"unknown model {str(name_or_path)!r}: not a folder and not shipped (shipped: {available_models()})"
            )
        path = pretrained_dir(str(name_or_path))
    if (path / "model.json").exists():
        folders = [path]
    else:
        folders = sorted(p for p in path.iterdir() if (p / "model.json").exists())
    if not folders:
        raise ValueError(f"{path}: no model.json in it or in its subfolders")
    described = json.loads((path / ENSEMBLE_JSON).read_text()) if (path / ENSEMBLE_JSON).exists() else {}
    readers = described.get("state_from_forests", [])
    if unknown := sorted(set(readers) - {f.name for f in folders}):
        raise ValueError(f"{path / ENSEMBLE_JSON}: state_from_forests names members without a folder: {unknown}")
    subset = None
    if members != "all":
        subsets = described.get("subsets", {})
        if members not in subsets:
            raise ValueError(f"{path}: no member subset {members!r} (it has: {['all', *sorted(subsets)]})")
        subset = subsets[members]
        missing = sorted(set(subset["member_weights"]) - {f.name for f in folders})
        if missing:
            raise ValueError(f"{path / ENSEMBLE_JSON}: subset {members!r} names members without a folder: {missing}")
        folders = [f for f in folders if f.name in subset["member_weights"]]
    # One module per architecture (model.json without the target and state scaling, buffers in the weights): the
    # folds of one configuration share it, which makes loading a 40-member ensemble about 10x faster.
    modules: dict[str, OccupancyTcModel] = {}
    models, weights = [], []
    for member in folders:
        try:
            spec = json.loads((member / "model.json").read_text())
            kwargs = {k: v for k, v in spec["kwargs"].items() if k not in SCALING_ARGS}
            key = json.dumps([spec["@module"], spec["@class"], kwargs], sort_keys=True, default=str)
            model = matgl.load_model(member) if key not in modules else None  # weights_only=True inside MatGL
            state = read_state(member)  # weights_only=True; memory rows shared by members put back
        except (OSError, ValueError, KeyError, TypeError, ImportError, RuntimeError, pickle.UnpicklingError) as exc:
            # A damaged or foreign folder: name it, rather than let a bare KeyError escape from MatGL's loader.
            raise ValueError(f"{member}: cannot load the model saved there ({type(exc).__name__}: {exc})") from exc
        if model is not None:
            if not isinstance(model, OccupancyTcModel):
                raise ValueError(f"{member}: holds a {type(model).__name__}, not a Tc model of this package")
            modules[key] = model
        try:
            modules[key].load_state_dict(state)  # here, not only in TcEnsemble, so that the error names the folder
        except RuntimeError as exc:
            raise ValueError(f"{member}: its state.pt does not fit the model its model.json describes: {exc}") from exc
        models.append(modules[key])
        weights.append(state)
    calibration = path / "calibration.json"
    name, member_weights, gated, low = path.name, None, None, None
    scaling = json.loads(calibration.read_text()) if calibration.exists() else {"sd_scale": 1.0}
    if subset is not None:
        name, scaling = f"{path.name}[{members}]", subset
        member_weights = [subset["member_weights"][f.name] for f in folders]
        if "low_tc_gate" in subset:
            low = _low_tc_gate(path, subset["low_tc_gate"], [f.name for f in folders])
    elif len(folders) > 1 and (path / ENSEMBLE_JSON).exists():
        given = described["member_weights"]
        names = [m.name for m in folders]
        if sorted(given) != sorted(names):
            unweighted, unknown = sorted(set(names) - set(given)), sorted(set(given) - set(names))
            raise ValueError(
                f"{path / ENSEMBLE_JSON}: member_weights must name every member folder once "
                f"(members without a weight: {unweighted}; weights of no member: {unknown})"
            )
        member_weights = [given[n] for n in names]
        if "gate" in described:
            gate = described["gate"]
            rows = []
            for band, band_weights in enumerate(gate["member_weights"]):
                if sorted(band_weights) != sorted(names):
                    raise ValueError(f"{path / ENSEMBLE_JSON}: gate band {band} must weight every member folder once")
                rows.append(tuple(band_weights[n] for n in names))
            gated = ForestSpreadGate(tuple(gate["edges"]), tuple(rows))
        if "low_tc_gate" in described:
            low = _low_tc_gate(path, described["low_tc_gate"], names)
    # Since 2026-12-07 one factor per band of the predicted Tc; a calibration written before has one for all.
    banded = scaling.get("sd_scale_by_predicted_tc", {"scales": scaling["sd_scale"], "edges_ln_k": ()})
    return TcEnsemble(
        models,
        name=name,
        sd_scale=banded["scales"],
        sd_scale_edges=banded["edges_ln_k"],
        weights=weights,
        member_weights=member_weights,
        training_elements=described.get("training_elements"),
        gate=gated,
        low_tc_gate=low,
        state_from_forests=[f.name in readers for f in folders],
    )


def _low_tc_gate(path: Path, spec: dict, names: list[str]) -> LowTcGate:
    """The :class:`LowTcGate` an ``ensemble.json`` (or one of its subsets) describes over the member folders ``names``.

    Raises:
        ValueError: For a group member without a folder among ``names``.
    """
    if unknown := sorted(set(spec["members"]) - set(names)):
        raise ValueError(f"{path / ENSEMBLE_JSON}: low_tc_gate names members without a folder: {unknown}")
    return LowTcGate(tuple(n in spec["members"] for n in names), float(spec["threshold"]), float(spec["weight"]))
