"""What a run folder trained, recorded in ``run.json``, and the check that refuses to mix two runs in one."""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from lightning.pytorch.utilities.rank_zero import rank_zero_only

from matgl_supercon._io import write_json_atomic
from matgl_supercon.models.megnet import MEGNetTc
from matgl_supercon.models.sodnet import SODNet
from matgl_supercon.training._lightning import TrainConfig

#: Constructor arguments that the trainer sets from the training data: not part of what a run was asked to train.
FITTED_ARGUMENTS = (
    "target_mean",
    "target_std",
    "state_mean",
    "state_std",
    "retrieval_memory_size",
    "tree_sizes",
    "max_depth",
    "kwargs",
)


def run_configuration(
    model_class: type[SODNet] | type[MEGNetTc], model_kwargs: dict | None, config: TrainConfig
) -> dict:
    """What a run trains, as JSON: the model's constructor arguments with its defaults filled in, and the settings.

    Defaults are resolved here, so a run recorded before a default changed still says what it trained.
    """
    parameters = inspect.signature(model_class.__init__).parameters
    model = {
        name: p.default
        for name, p in parameters.items()
        if p.default is not inspect.Parameter.empty and name not in FITTED_ARGUMENTS
    }
    model.update({k: v for k, v in (model_kwargs or {}).items() if k not in FITTED_ARGUMENTS})
    return json.loads(json.dumps({"model": model, "training": asdict(config)}))


def configuration_differences(
    stored: dict, requested: dict, ignore: Sequence[str] = ()
) -> list[tuple[str, object, object]]:
    """``(key, stored value, requested value)`` for every key, not in ``ignore``, that both set to different values.

    Only shared keys count: a configuration recorded before an argument existed says nothing about it.
    """
    return [
        (key, stored[key], requested[key])
        for key in sorted(set(stored) & set(requested))
        if key not in ignore and stored[key] != requested[key]
    ]


def data_differences(stored: dict, requested: dict) -> list[str]:
    """How a run's recorded training data differs from a request, key for key, as ``data.key: ...`` lines.

    A key on one side only is a difference (a run with a teacher is not a run without one).
    """
    return [
        f"data.{key}: the folder has {stored.get(key)!r}, this run asks for {requested.get(key)!r}"
        for key in sorted(set(stored) | set(requested))
        if stored.get(key) != requested.get(key)
    ]


def check_run_folder(out_dir: Path, requested: dict) -> None:
    """Refuse to resume or reuse a run folder that holds another configuration; record the configuration otherwise.

    A folder is checked against its ``run.json`` or, for runs recorded before that file existed, against the
    saved model's arguments and ``history.json``'s settings (keys present on both sides). An unfinished run may
    be resumed with another ``max_epochs`` or ``patience`` (to train on, or stop later); a finished one is reused
    only for exactly its settings. Where the folder recorded its ``data`` (:func:`fit_tc_model`), that must match
    too, key for key.

    Raises:
        ValueError: Naming the folder and every setting that differs.
    """
    record = out_dir / "run.json"
    if record.exists():
        stored = json.loads(record.read_text())
    else:
        stored = {"model": {}, "training": {}}
        if (out_dir / "model" / "model.json").exists():
            stored["model"] = json.loads((out_dir / "model" / "model.json").read_text()).get("kwargs", {})
        if (out_dir / "history.json").exists():
            stored["training"] = json.loads((out_dir / "history.json").read_text()).get("config", {})
    finished = (out_dir / "model").exists() and (out_dir / "history.json").exists()
    free = FITTED_ARGUMENTS if finished else (*FITTED_ARGUMENTS, "max_epochs", "patience")
    differences = [
        f"{section}.{key}: the folder has {old!r}, this run asks for {new!r}"
        for section in ("model", "training")
        for key, old, new in configuration_differences(stored.get(section, {}), requested[section], free)
    ]
    if "data" in stored:  # recorded since data existed
        differences += data_differences(stored["data"], requested.get("data", {}))
    if differences:
        raise ValueError(
            f"{out_dir} holds a run of another configuration ({'; '.join(differences)}); "
            "train into another folder or delete this one"
        )
    if not record.exists() and rank_zero_only.rank == 0:  # one writer when DDP runs this in every process
        write_json_atomic(record, requested)
