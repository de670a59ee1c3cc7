"""``mgl-supercon``: the command line. Thin: parses arguments and calls the package API."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from matgl_supercon import __version__

if TYPE_CHECKING:  # numpy and torch load lazily, so that --help stays fast
    import numpy as np

DEFAULT_MODEL = "SODNet-SuperCon3D"
#: ``--members`` value that keeps the shipped ensemble's composition members (``pretrained.COMPOSITION_MEMBERS``;
#: written here so that ``--help`` does not import torch).
COMPOSITION_MEMBERS = "composition"
#: Epochs of a GNN leaderboard cell (``benchmark --epochs``).
DEFAULT_BENCHMARK_EPOCHS = 40
#: Doped copies per training structure of ``train --teacher`` (three beat one in benchmarks/sodnet_distillation.py).
DEFAULT_DOPED_COPIES = 3
#: File in a ``train --teacher`` run folder that keeps the teacher's labels of the doped copies for resumed runs.
TEACHER_LABELS_FILE = "teacher_labels.json"


def _at_least(minimum: int):
    """An argparse type: an int of at least ``minimum`` (argparse names the option and the value it refuses)."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "int"  # argparse says "invalid int value" for text that is no integer
    return parse


def _json_option(text: str, option: str, accepted: Iterable[str] | None = None) -> dict:
    """The JSON object given to ``option``; with ``accepted``, every key must be one of those names.

    Raises:
        ValueError: Naming the option and what is wrong (not JSON, not an object, unknown keys).
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{option}: not valid JSON ({exc}): {text}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{option}: expected a JSON object such as '{{\"key\": 1}}', got {text}")
    if accepted is not None:
        accepted = sorted(accepted)
        unknown = sorted(set(value) - set(accepted))
        if unknown:
            raise ValueError(f"{option}: unknown key(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}")
    return value


def _train_fields(text: str, config_class: type | None = None, **defaults) -> dict:
    """Fields of ``config_class`` (default ``TrainConfig``): ``--train``'s JSON on top of ``defaults``."""
    from dataclasses import fields

    from matgl_supercon.training import TrainConfig

    names = [f.name for f in fields(config_class or TrainConfig)]
    return {**defaults, **_json_option(text, "--train", names)}


def _model_arguments(cls) -> list[str]:
    """Constructor arguments a user may set on ``cls`` (those the trainer fits from the data left out)."""
    import inspect

    from matgl_supercon.training import FITTED_ARGUMENTS

    return [name for name in inspect.signature(cls.__init__).parameters if name not in ("self", *FITTED_ARGUMENTS)]


def _cmd_graph(args: argparse.Namespace) -> int:
    from matgl_supercon.data import read_structure
    from matgl_supercon.graph import OccupancyStructure2Graph

    converter = OccupancyStructure2Graph(cutoff=args.cutoff, max_neighbors=args.max_neighbors)
    status = 0
    for path in args.files:
        try:
            print(f"{path}: {converter.summary(read_structure(path))}")
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
    return status


def _column_width(header: str, entries: Iterable[str]) -> int:
    """A table column as wide as its longest entry: a cut path or formula can name the wrong file or compound."""
    return max([len(header), *map(len, entries)])


def _print_predictions(predictions, as_json: bool, as_csv: bool, source_header: str = "structure") -> None:
    rows = [p.as_dict() for p in predictions]
    if as_json:
        print(json.dumps(rows, indent=2))
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    else:
        source_width = _column_width(source_header, (p.source for p in predictions))
        formula_width = _column_width("formula", (p.formula for p in predictions))
        print(
            f"{source_header:{source_width}s} {'formula':{formula_width}s} {'disorder':9s} {'Tc / K':>8s}  "
            "range (± 1 sd)"
        )
        for p in predictions:
            print(
                f"{p.source:{source_width}s} {p.formula:{formula_width}s} {p.disorder:9s} {p.tc:8.2f}  {_tc_range(p)}"
            )
        _print_notes(predictions)


def _tc_range(p) -> str:
    """A prediction's ±1 sd range for a table; ``n/a`` where the model gave no spread (one member)."""
    return f"{p.tc_low:.2f}-{p.tc_high:.2f}" if p.ln_tc_sd > 0 else "n/a"


def _print_notes(predictions) -> None:
    """The notes under a table of predictions: a range the model cannot give, and elements it never saw."""
    if any(p.ln_tc_sd == 0 for p in predictions):
        print("note: n/a: a single model gives no spread; a folder of several model folders (an ensemble) does")
    _print_unseen_element_notes(predictions)


def _print_unseen_element_notes(predictions) -> None:
    """A note under a table for each prediction whose structure holds an element no training structure held."""
    for p in predictions:
        if p.unseen_elements:
            elements = p.unseen_elements.replace(";", ", ")
            print(f"note: {p.source}: no training structure held {elements}; this Tc is an extrapolation")


def _tc_model(args: argparse.Namespace):
    """``--model`` as a name or folder, or loaded here when ``--members`` asks for a subset of its members."""
    if args.members in (None, "all"):
        return args.model
    from matgl_supercon.pretrained import load_model

    return load_model(args.model, members=args.members)


def _formula_arguments(arguments: Sequence[str]) -> list[str]:
    """``predict --formula``'s arguments, with ``-`` replaced by standard input's formulas, one per line.

    Blank lines hold no formula and are passed over; every other line is a formula, refused by name if it does not
    parse.
    """
    formulas = []
    for argument in arguments:
        if argument == "-":
            formulas.extend(line.strip() for line in sys.stdin if line.strip())
        else:
            formulas.append(argument)
    if not formulas:
        raise ValueError("predict --formula: no formula given (standard input was empty)")
    return formulas


def _cmd_predict(args: argparse.Namespace) -> int:
    from matgl_supercon.workflows import predict_formula_tc, predict_tc

    if args.formula:
        if args.allow_overlaps:
            raise ValueError("--allow-overlaps is about atoms in a structure, and --formula reads formulas")
        members = COMPOSITION_MEMBERS if args.members is None else args.members
        predictions = predict_formula_tc(_formula_arguments(args.files), args.model, members, args.batch_size)
        _print_predictions(predictions, args.json, args.csv, source_header="input")
        return 0
    predictions = predict_tc(args.files, _tc_model(args), args.batch_size, args.allow_overlaps)
    _print_predictions(predictions, args.json, args.csv)
    return 0


def _cmd_screen(args: argparse.Namespace) -> int:
    from matgl_supercon.workflows import screen_folder, screen_formulas

    chunk = {"chunk_size": args.chunk_size} if args.chunk_size else {}  # else the screen's own default
    if args.formula:
        structure_options = {"--workers": args.workers != 1, "--pattern": bool(args.pattern)}
        structure_options["--allow-overlaps"] = args.allow_overlaps
        if given := [name for name, used in structure_options.items() if used]:
            raise ValueError(f"{', '.join(given)}: about structure files, and --formula screens formulas")
        report = screen_formulas(
            args.folder,
            args.out,
            args.model,
            COMPOSITION_MEMBERS if args.members is None else args.members,
            column=args.column,
            errors_csv=args.errors,
            top_k=args.top,
            progress=sys.stderr.isatty(),
            **chunk,
        )
        print(
            f"{report.n_files} formulas: {report.n_done_before} done before, {report.n_predicted} predicted now, "
            f"{report.n_errors} refused (listed in the errors file)"
        )
        if report.top:
            print(f"top {len(report.top)} by predicted Tc:")
            _print_predictions(report.top, False, False, source_header="input")
        return 0
    if args.column is not None:
        raise ValueError("--column names the formulas' column of a CSV given with --formula")
    report = screen_folder(
        args.folder,
        args.out,
        _tc_model(args),
        args.errors,
        workers=args.workers,
        top_k=args.top,
        progress=sys.stderr.isatty(),  # a bar on a terminal; a batch job's log gets the summary lines only
        allow_overlaps=args.allow_overlaps,
        **chunk,
        **({"patterns": args.pattern} if args.pattern else {}),
    )
    print(
        f"{report.n_files} files: {report.n_done_before} done before, {report.n_predicted} predicted now, "
        f"{report.n_errors} unreadable (listed in the errors file)"
    )
    if report.other_files:
        shown = ", ".join(report.other_files[:3]) + (", ..." if len(report.other_files) > 3 else "")
        print(f"{len(report.other_files)} other files match no --pattern and were not screened: {shown}")
    if report.top:
        print(f"top {len(report.top)} by predicted Tc:")
        _print_predictions(report.top, False, False)
    return 0


def _numbers(text: str, option: str) -> list[float]:
    """A comma-separated list of numbers given to ``option``."""
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise SystemExit(f"{option}: {text!r} is not a comma-separated list of numbers") from None


def _cmd_dope(args: argparse.Namespace) -> int:
    from matgl_supercon.data import read_structure
    from matgl_supercon.workflows import explore_doping, explore_formula_doping

    fractions = _numbers(args.fractions, "--fractions")  # before the file and the model are read
    dopants = [d.strip() for d in args.dopants.split(",")]
    if args.formula:
        if given := [name for name, used in (("--out", args.out), ("--allow-overlaps", args.allow_overlaps)) if used]:
            raise ValueError(f"{', '.join(given)}: about structures, and --formula dopes a formula")
        members = COMPOSITION_MEMBERS if args.members is None else args.members
        variants = explore_formula_doping(args.parent, args.host, dopants, fractions, args.model, members)
    else:
        parent = read_structure(args.parent)
        variants = explore_doping(parent, args.host, dopants, fractions, _tc_model(args), args.out, args.allow_overlaps)
    formula_width = _column_width("formula", (v.prediction.formula for v in variants))
    print(f"{'dopant':6s} {'x':>6s} {'formula':{formula_width}s} {'Tc / K':>8s}  range (± 1 sd)")
    for v in variants:
        p = v.prediction
        print(f"{v.dopant:6s} {v.fraction:6.3f} {p.formula:{formula_width}s} {p.tc:8.2f}  {_tc_range(p)}")
    _print_notes([v.prediction for v in variants])
    if args.out:
        print(f"variants written to {Path(args.out)}/")
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from matgl_supercon.data import read_structure
    from matgl_supercon.workflows import explain_structure
    from matgl_supercon.workflows.predict import resolve_model

    png = args.png or str(Path(args.file).with_suffix(".explain.png"))
    structure = read_structure(args.file)
    ensemble = resolve_model(args.model)
    rows = explain_structure(structure, ensemble, png, args.allow_overlaps, args.structure_only)
    unseen = ensemble.unseen_elements(structure)
    note = f"note: {args.file}: no training structure held {', '.join(unseen)}; these shares are an extrapolation"
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        if unseen:
            print(note, file=sys.stderr)  # stdout stays one JSON document
    else:
        species_width = _column_width("species", (r.species for r in rows))
        print(f"{'site':>4s} {'species':{species_width}s} {'disorder':9s} {'frac coords':28s} share of ln Tc")
        for r in rows:
            coords = "(" + ", ".join(f"{c:.3f}" for c in r.frac_coords) + ")"
            print(f"{r.index:4d} {r.species:{species_width}s} {r.disorder:9s} {coords:28s} {r.contribution:+.4f}")
        total = sum(r.contribution for r in rows)
        whose = "the structure-reading members' ln Tc" if args.structure_only else "ln Tc"
        print(f"sum = {whose} = {total:.4f}; chart: {png}")
        if unseen:
            print(note)
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from matgl_supercon.workflows import generate_for_tc

    training = None
    if args.novelty_data is not None:
        from matgl_supercon.data import load_diffcsp_sc

        training = [r.structure for r in load_diffcsp_sc("train", args.novelty_data)]
    rows = generate_for_tc(
        args.generator,
        args.target_tc,
        args.n,
        args.out,
        None if args.no_score else _tc_model(args),
        training,
        guidance=args.guidance,
        seed=args.seed,
        progress=sys.stderr.isatty(),  # a bar on a terminal; a batch job's log gets the summary line only
    )
    n_valid = sum(r["structurally_valid"] for r in rows)
    out = Path(args.out)
    print(f"{len(rows)} structures written to {out}/ ({n_valid} structurally valid); summary: {out / 'summary.csv'}")
    return 0


def _fold_blocks(args: argparse.Namespace, records: Sequence) -> tuple:
    """The train, validation and test positions of ``--fold`` among ``--n-folds`` 8:1:1 folds of ``records``."""
    from matgl_supercon.data import paper_folds

    return paper_folds([r.id for r in records], n_folds=args.n_folds, seed=args.split_seed)[args.fold]


def _cmd_train(args: argparse.Namespace) -> int:
    import numpy as np
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    from matgl_supercon.data import extra_training_records, load_supercon3d, load_table
    from matgl_supercon.models import SODNet
    from matgl_supercon.training import (
        Subset,
        TrainConfig,
        fit_tc_model,
        graph_dataset,
        predict_dataset,
        records_dataset,
    )

    if args.fold >= args.n_folds:  # before any data is read
        raise SystemExit(f"--fold {args.fold}: there are {args.n_folds} folds (0 to {args.n_folds - 1})")
    if args.extra_scope != "system" and not args.extra_data:
        raise SystemExit("--extra-scope says which --extra-data rows a forest grows on; give --extra-data")
    if sum((args.composition, args.forest, args.forest_state)) > 1:
        raise SystemExit("--composition, --forest and --forest-state train different models; give one")
    if args.table:
        records = load_table(args.table, tc_column=args.tc_column, structure_column=args.structure_column)
    elif args.dataset == "supercon3d":
        records = load_supercon3d(args.data)
    else:
        raise SystemExit(f"unknown dataset {args.dataset}")
    if args.composition or args.forest:
        return _train_composition(args, records)
    if args.forest_state:
        return _train_forest_state(args, records)
    if args.extra_data:
        raise SystemExit("--extra-data adds training rows to --forest and --forest-state; give one of them")
    if args.doped_copies is not None and not args.teacher:
        raise SystemExit("--doped-copies: the copies are labelled by a --teacher; give one")
    model_kwargs = _json_option(args.model, "--model", _model_arguments(SODNet))
    start = None
    if args.init_from:
        if model_kwargs:
            raise SystemExit("--init-from fine-tunes that model's architecture; leave out --model")
        start = SODNet.load(args.init_from)
        model_kwargs = {k: v for k, v in start._init_args.items() if k != "kwargs"}
    config = TrainConfig(**_train_fields(args.train, max_epochs=args.epochs or 40, seed=args.seed))
    structures, ln_tc = [r.structure for r in records], np.log([r.tc for r in records])
    train, val, test = _fold_blocks(args, records)
    copies, data = [], {}
    if args.teacher:
        n_copies = DEFAULT_DOPED_COPIES if args.doped_copies is None else args.doped_copies
        data = {"teacher": str(args.teacher), "doped_copies": n_copies, "copy_seed": args.seed}
        copies, labels = _teacher_labels(Path(args.out), [structures[i] for i in train], data, _allow_overlaps(args))
        structures, ln_tc = structures + copies, np.concatenate([ln_tc, labels])
    template = SODNet(**model_kwargs)
    dataset = graph_dataset(structures, ln_tc, template.make_converter(allow_overlaps=_allow_overlaps(args)))
    memory = None
    if args.memory_data:
        if template.retrieval is None:
            raise SystemExit("--memory-data needs a retrieval model: --model '{\"retrieval_neighbors\": 32}'")
        extra = extra_training_records(args.memory_data, records, args.data)
        converter = template.make_converter(allow_isolated=True)  # formula rows are one-site virtual crystals
        memory = records_dataset(extra, converter)
    trainer_kwargs = _trainer_kwargs(args)
    with_copies = train.tolist() + list(range(len(records), len(structures)))
    # A retrieval model's memory keeps the training block, not the copies: a structure would read the teacher's
    # labels of its own copies as neighbours, which no test structure has.
    memory_rows = range(len(train)) if copies and template.retrieval is not None else None
    model, summary = fit_tc_model(
        Subset(dataset, with_copies),
        Subset(dataset, val.tolist()),
        args.out,
        model_kwargs,
        config,
        trainer_kwargs,
        init_from=start,
        memory_set=memory,
        data=data,
        memory_rows=memory_rows,
    )
    if rank_zero_only.rank != 0:  # a DDP run executes this command in every process; one reports
        return 0
    pred = predict_dataset(model, Subset(dataset, test.tolist()))
    test_mae = float(np.abs(pred - ln_tc[test]).mean())
    taught = f" ({len(copies)} doped copies labelled by {args.teacher})" if args.teacher else ""
    print(
        f"fold {args.fold}: best val MAE {summary['best_val_mae']:.3f}, test MAE {test_mae:.3f} ln K{taught}; "
        f"model saved to {Path(args.out) / 'model'}"
    )
    return 0


def _trainer_kwargs(args: argparse.Namespace) -> dict:
    """The Lightning ``Trainer`` arguments ``train`` was given (accelerator, devices, strategy, nodes)."""
    names = ("accelerator", "devices", "strategy", "num_nodes")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _extra_records(args: argparse.Namespace, records: list) -> tuple[list, Callable | None]:
    """``--extra-data``'s records and, for ``--extra-scope compound``, which of them a forest may grow beside.

    ``system`` keeps the records of chemical systems absent from every one of ``records`` (a forest may then grow
    beside all of them); ``compound`` keeps every record and lets a forest grow beside those at least
    ``SAME_COMPOUND_DISTANCE`` from each structure it does not grow on (the shipped members' rule): the second
    value maps those structures' indices in ``records`` to the rows it may use.
    """
    from matgl_supercon.data import atom_fractions, compound_row_filter, extra_training_records

    if args.extra_scope == "system":
        return extra_training_records(args.extra_data, records, args.data), None
    extra = extra_training_records(args.extra_data, [], args.data)
    return extra, compound_row_filter(atom_fractions(extra), records)


def _train_forest_state(args: argparse.Namespace, records: list) -> int:
    """``train --forest-state``: a SODNet that reads a forest's ln Tc, saved with that forest as an ensemble folder."""
    import numpy as np
    import torch
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    from matgl_supercon.models import SODNet
    from matgl_supercon.training import CompositionForestConfig, TrainConfig, fit_forest_reading_sodnet

    for given, option in ((args.teacher, "--teacher"), (args.memory_data, "--memory-data")):
        if given:
            raise SystemExit(f"{option} and --forest-state train different SODNets; give one")
    if args.init_from or args.doped_copies is not None:
        raise SystemExit(
            "--forest-state trains a new SODNet on its structures alone; leave out --init-from and --doped-copies"
        )
    model_kwargs = _json_option(args.model, "--model", _model_arguments(SODNet))
    config = TrainConfig(**_train_fields(args.train, max_epochs=args.epochs or 40, seed=args.seed))
    train, val, test = _fold_blocks(args, records)
    extra, rows_beside = None, None
    if args.extra_data:
        extra_records, rows_beside = _extra_records(args, records)
        extra = ([r.structure for r in extra_records], np.log([r.tc for r in extra_records]))
    _, summary = fit_forest_reading_sodnet(
        [r.structure for r in records],
        np.log([r.tc for r in records]),
        train,
        val,
        args.out,
        test,
        model_kwargs,
        config,
        forest_config=CompositionForestConfig(n_jobs=torch.get_num_threads()),  # the shipped members' settings
        extra=extra,
        extra_rows=rows_beside,
        trainer_kwargs=_trainer_kwargs(args),
        allow_overlaps=_allow_overlaps(args),
    )
    if rank_zero_only.rank == 0:
        print(
            f"fold {args.fold}: best val MAE {summary['best_val_mae']:.3f}, test MAE {summary['test_mae']:.3f} ln K "
            f"(its state forest alone {summary['forest_test_mae']:.3f}); predict with --model {args.out}"
        )
    return 0


def _teacher_labels(out_dir: Path, structures: list, data: dict, allow_overlaps: bool) -> tuple[list, np.ndarray]:
    """``train --teacher``'s doped copies and their labels, kept in the run folder.

    The labels are written (atomically) to ``teacher_labels.json`` before training starts, so that a resumed or
    reused run trains on the labels it started with, without asking the teacher again (an ensemble teacher takes
    minutes, and its folder may have changed or gone since). ``allow_overlaps``: label copies with overlapping atoms
    (see :func:`_allow_overlaps`).

    Raises:
        ValueError: Naming the file, when it is not JSON, holds labels of another teacher, copy count or seed, or
            not one label per copy.
    """
    import numpy as np

    from matgl_supercon._io import write_json_atomic
    from matgl_supercon.training import data_differences
    from matgl_supercon.workflows import doped_copies, teacher_labelled_copies

    path = out_dir / TEACHER_LABELS_FILE
    if not path.exists():
        copies, labels = teacher_labelled_copies(
            structures, data["teacher"], data["doped_copies"], data["copy_seed"], allow_overlaps
        )
        write_json_atomic(path, {"data": data, "labels": labels.tolist()})
        return copies, labels
    try:
        stored = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not the JSON this command writes ({exc}); delete the file to relabel") from None
    differences = data_differences(stored.get("data", {}), data)
    if differences:
        raise ValueError(
            f"{path} holds the labels of another run ({'; '.join(differences)}); train into another folder or "
            "delete this one"
        )
    copies, _ = doped_copies(structures, data["doped_copies"], data["copy_seed"])
    labels = np.asarray(stored.get("labels", []), dtype=np.float64)
    if labels.shape != (len(copies),):
        raise ValueError(f"{path}: {labels.size} labels for {len(copies)} doped copies; delete the file to relabel")
    return copies, labels


def _allow_overlaps(args: argparse.Namespace) -> bool:
    """Whether ``train`` accepts crystals with overlapping atoms: a published dataset's, taken as they are.

    Five SuperCon3D CIFs hold overlapping atoms (see :func:`~matgl_supercon.data.load_supercon3d`); the crystals of
    a user's ``--table`` are checked unless ``--allow-overlaps``.
    """
    return not args.table or args.allow_overlaps


def _train_composition(args: argparse.Namespace, records: list) -> int:
    """``train --composition`` (a CompositionTc) or ``--forest`` (a CompositionForestTc) on one fold, in minutes.

    The model goes to ``--out/model``.
    """
    import numpy as np

    from matgl_supercon.data import extra_training_records
    from matgl_supercon.models import CompositionForestTc, CompositionTc
    from matgl_supercon.training import (
        CompositionForestConfig,
        CompositionTrainConfig,
        fit_composition_forest,
        fit_composition_tc,
        save_model_atomic,
    )

    option = "--forest" if args.forest else "--composition"
    if args.teacher or args.doped_copies is not None:
        raise SystemExit(f"--teacher and --doped-copies teach a SODNet; leave out {option}")
    if args.init_from:
        raise SystemExit(f"--init-from fine-tunes a SODNet; leave out {option}")
    if args.forest and args.epochs:
        raise SystemExit("--epochs: trees are grown, not trained for epochs; leave it out with --forest")
    if args.forest and args.memory_data:
        raise SystemExit("--memory-data is read by retrieval networks; trees train on --extra-data")
    if args.extra_data and not args.forest:
        raise SystemExit(
            "--extra-data adds training rows to --forest and --forest-state; networks read extra records as "
            "--memory-data"
        )
    folder = Path(args.out) / "model"
    if (folder / "model.json").exists():
        raise SystemExit(f"{folder} holds a finished run; give another --out to train again")
    model_class = CompositionForestTc if args.forest else CompositionTc
    model_kwargs = _json_option(args.model, "--model", _model_arguments(model_class))
    template = model_class(**model_kwargs)

    def statistics(rows: list) -> np.ndarray:
        structures = [r.structure for r in rows]
        return template.structure_composition_statistics(structures, _allow_overlaps(args)).numpy().astype(np.float64)

    def labelled(rows: list) -> tuple[np.ndarray, np.ndarray]:
        return statistics(rows), np.log([r.tc for r in rows])

    x, ln_tc = statistics(records), np.log([r.tc for r in records])
    train, val, test = _fold_blocks(args, records)
    if args.forest:
        fields = _train_fields(args.train, CompositionForestConfig, seed=args.seed)
        extra = None
        if args.extra_data:
            extra_records, rows_beside = _extra_records(args, records)
            if rows_beside is not None:  # the forest grows on neither the validation nor the test block
                extra_records = [extra_records[i] for i in rows_beside(np.concatenate([val, test]))]
            extra = labelled(extra_records)
        model, summary = fit_composition_forest(
            (x[train], ln_tc[train]), model_kwargs, CompositionForestConfig(**fields), extra=extra
        )
        val_mae = float(np.abs(model.predict_statistics(x[val]).numpy() - ln_tc[val]).mean())
        done = f"{summary['training_rows']:,} training rows, {summary['nodes']:,} nodes, {summary['seconds']:.0f} s"
    else:
        fields = _train_fields(args.train, CompositionTrainConfig, seed=args.seed)
        config = CompositionTrainConfig(**({"max_epochs": args.epochs} if args.epochs else {}), **fields)
        memory = labelled(extra_training_records(args.memory_data, records, args.data)) if args.memory_data else None
        model, summary = fit_composition_tc(
            (x[train], ln_tc[train]), (x[val], ln_tc[val]), model_kwargs, config, memory=memory
        )
        val_mae = summary["best_val_mae"]
        done = f"{summary['epochs']} epochs, {summary['seconds']:.0f} s"
    folder.parent.mkdir(parents=True, exist_ok=True)
    save_model_atomic(model, folder)
    test_mae = float(np.abs(model.predict_statistics(x[test]).detach().numpy() - ln_tc[test]).mean())
    print(f"fold {args.fold}: val MAE {val_mae:.3f}, test MAE {test_mae:.3f} ln K ({done}); model saved to {folder}")
    return 0


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from matgl_supercon.benchmarks import FOREST_MODELS, load_task, run_cell
    from matgl_supercon.training import CompositionForestConfig

    if args.model in FOREST_MODELS:
        if args.epochs is not None:
            raise SystemExit("--epochs: trees are grown, not trained for epochs; leave it out for a forest")
        train_config = _train_fields(args.train, CompositionForestConfig)
    else:
        train_config = _train_fields(args.train, max_epochs=args.epochs or DEFAULT_BENCHMARK_EPOCHS)
    task = load_task(args.task, args.data)
    summary = run_cell(
        task,
        args.model,
        args.out,
        folds=args.folds,
        seed=args.seed,
        model_kwargs=_json_option(args.model_args, "--model-args"),
        train_config=train_config,
        runs_dir=args.runs,
        data_dir=args.data,
    )
    state = "complete" if summary["complete"] else f"folds {summary['folds_done']} of {len(task.folds)} done"
    spread = f" ± {summary['mae_sd']:.3f}" if len(summary["folds_done"]) > 1 else ""  # one fold has no spread
    if summary.get("same_folds"):
        others = ", ".join(f"{m} {v:.3f}" for m, v in sorted(summary["same_folds"].items(), key=lambda kv: kv[1]))
        state += f"; on the same folds: {others}"
    print(
        f"{args.task} | {args.model}: MAE {summary['mae_mean']:.3f}{spread} {summary['unit']}, "
        f"R2 {summary['r2_mean']:.3f} ({state}; {summary['cpu_minutes']:.1f} CPU min); "
        f"results in {Path(args.out) / args.task / args.model}"
    )
    return 0


def add_allow_overlaps(parser: argparse.ArgumentParser) -> None:
    """``--allow-overlaps`` of the prediction commands."""
    parser.add_argument(
        "--allow-overlaps",
        action="store_true",
        help="accept atoms closer than 0.5 A whose occupancies sum above 1, such as an atom a CIF lists twice "
        "(refused by default, naming the sites)",
    )


def add_formula(parser: argparse.ArgumentParser, reads: str, after: str = "") -> None:
    """``--formula``: the command reads formulas, which ``--model``'s composition members predict."""
    parser.add_argument(
        "--formula",
        action="store_true",
        help=f"{reads}: --model's composition members predict them (--members defaults to '{COMPOSITION_MEMBERS}'), "
        f"blind to polymorphs and vacancies{after}",
    )


def add_threads(parser: argparse.ArgumentParser) -> None:
    """``--threads``: torch CPU threads of a long job (two jobs beside each other on 2 cores want 1 each)."""
    parser.add_argument(
        "--threads", type=_at_least(1), default=None, help="torch CPU threads (default: torch's choice)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mgl-supercon`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="mgl-supercon",
        description="Superconductor Tc prediction for ordered and disordered crystals (SODNet on MatGL graphs).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    graph = sub.add_parser("graph", help="convert structures to occupancy-aware graphs and summarise them")
    graph.add_argument("files", nargs="+", help="structure files pymatgen or ASE can read (CIF, POSCAR, extxyz, ...)")
    graph.add_argument("--cutoff", type=float, default=8.0, help="neighbour radius in A (default 8)")
    graph.add_argument("--max-neighbors", type=_at_least(1), default=32, help="neighbours kept per site (default 32)")
    graph.set_defaults(func=_cmd_graph)

    def add_model(p, members: bool = True):
        p.add_argument("--model", default=DEFAULT_MODEL, help=f"shipped model name or model folder ({DEFAULT_MODEL})")
        if members:
            p.add_argument(
                "--members",
                default=None,
                help=f"'all' members of --model (the default), or a subset its ensemble.json names: "
                f"'{COMPOSITION_MEMBERS}' keeps the shipped ensemble's composition members, several times faster and "
                "blind to the structure",
            )

    predict = sub.add_parser("predict", help="predict Tc (with ensemble spread) of structure files or formulas")
    predict.add_argument(
        "files",
        nargs="+",
        help="structure files pymatgen or ASE can read (CIF, POSCAR, extxyz, ...); formulas with --formula",
    )
    add_formula(
        predict,
        "read the arguments as formulas (MgB2 Mg0.9Al0.1B2; '-' reads one per line from standard input)",
        "; a formula that does not parse stops it (screen --formula lists such formulas and goes on)",
    )
    add_model(predict)
    predict.add_argument("--batch-size", type=_at_least(1), default=16, help="structures per forward pass (default 16)")
    out = predict.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON")
    out.add_argument("--csv", action="store_true", help="print CSV")
    add_allow_overlaps(predict)
    predict.set_defaults(func=_cmd_predict)

    screen = sub.add_parser(
        "screen", help="rank a folder of structure files (or a file of formulas) by predicted Tc (resumable)"
    )
    screen.add_argument(
        "folder", help="folder of structure files (searched recursively); with --formula, a file of formulas"
    )
    add_formula(
        screen,
        "FOLDER is a file of formulas, one per line (or a CSV with --column)",
        "; refused formulas go to the errors file",
    )
    screen.add_argument("--column", default=None, help="with --formula: the CSV column that holds the formulas")
    screen.add_argument(
        "--out", required=True, help="results CSV (a rerun with the same model skips files already in it)"
    )
    screen.add_argument("--errors", default=None, help="errors CSV (default: <out>.errors.csv)")
    screen.add_argument("--workers", type=_at_least(1), default=1, help="processes that parse files")
    screen.add_argument(
        "--chunk-size",
        type=_at_least(1),
        default=None,
        help="files (formulas) per batch and per checkpoint (default 64; 4096 with --formula)",
    )
    screen.add_argument("--top", type=_at_least(0), default=10, help="size of the final ranking")
    screen.add_argument(
        "--pattern",
        action="append",
        default=None,
        help="file name pattern to screen, case ignored (repeatable; default: *.cif, *.cif.gz, *.mcif, POSCAR*, "
        "*.vasp, CONTCAR*, *.extxyz)",
    )
    add_model(screen)
    add_allow_overlaps(screen)
    screen.set_defaults(func=_cmd_screen)

    dope = sub.add_parser("dope", help="substitute dopants on a host element's sites and rank the variants")
    dope.add_argument("parent", help="parent structure file (a formula with --formula)")
    add_formula(dope, "PARENT is a formula (MgB2), and so are its variants")
    dope.add_argument("--host", required=True, help="element to substitute, e.g. Mg")
    dope.add_argument("--dopants", required=True, help="comma-separated elements, e.g. Al,Li")
    dope.add_argument("--fractions", default="0.05,0.1,0.2", help="comma-separated fractions of the host")
    dope.add_argument("--out", default=None, help="folder for the variants' CIFs")
    add_model(dope)
    add_allow_overlaps(dope)
    dope.set_defaults(func=_cmd_dope)

    explain = sub.add_parser("explain", help="per-site contributions to the predicted ln Tc (table + PNG)")
    explain.add_argument("file", help="structure file pymatgen or ASE can read")
    explain.add_argument("--png", default=None, help="chart path (default <file>.explain.png)")
    explain.add_argument("--json", action="store_true", help="print JSON")
    add_model(explain, members=False)  # composition members only share their value out by occupancy
    explain.add_argument(
        "--structure-only",
        action="store_true",
        help="average over the members that read the structure (SODNet) only: the shipped ensemble's composition "
        "members carry most of its weight and share their value out by occupancy",
    )
    add_allow_overlaps(explain)
    explain.set_defaults(func=_cmd_explain)

    generate = sub.add_parser("generate", help="generate crystals for a target Tc with a trained DiffCSP-SC")
    generate.add_argument(
        "--generator",
        default="DiffCSPSC-SuperCon",
        help="shipped generator name or folder of a saved DiffCSPSC in ab initio mode (DiffCSPSC-SuperCon)",
    )
    generate.add_argument("--target-tc", type=float, default=None, help="target Tc in K (omit: unconditional)")
    generate.add_argument("--n", type=_at_least(1), default=100, help="crystals to generate (default 100)")
    generate.add_argument("--out", required=True, help="output folder (rerun with the same arguments to resume)")
    generate.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance scale")
    generate.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    generate.add_argument("--novelty-data", default=None, help="data root; novelty vs the DiffCSP-SC train split")
    generate.add_argument("--no-score", action="store_true", help="skip the SODNet Tc of the samples")
    add_model(generate)
    generate.set_defaults(func=_cmd_generate)

    train = sub.add_parser(
        "train", help="train SODNet (or a CompositionTc or CompositionForestTc) on one fold of the paper protocol"
    )
    train.add_argument("--dataset", default="supercon3d", choices=["supercon3d"], help="dataset (default supercon3d)")
    train.add_argument("--table", default=None, help="train on your CSV instead (CIF path/text + Tc columns)")
    train.add_argument(
        "--allow-overlaps",
        action="store_true",
        help="accept --table crystals with atoms closer than 0.5 A whose occupancies sum above 1 (SuperCon3D's are)",
    )
    train.add_argument("--tc-column", default="tc", help="--table's Tc column, in K (default tc)")
    train.add_argument(
        "--structure-column", default="cif", help="--table's column of CIF paths or CIF text (default cif)"
    )
    train.add_argument("--data", default=None, help="data root (default $MATGL_SUPERCON_DATA)")
    train.add_argument(
        "--fold", type=_at_least(0), default=0, help="fold to train: its train and validation blocks (default 0)"
    )
    train.add_argument(
        "--n-folds", type=_at_least(3), default=10, help="folds of the 8:1:1 paper protocol (default 10)"
    )
    train.add_argument("--split-seed", type=int, default=0, help="seed of the fold assignment (default 0)")
    train.add_argument("--seed", type=int, default=0, help="seed of the initial weights and batch order (default 0)")
    train.add_argument(
        "--epochs", type=_at_least(1), default=None, help="training epochs (default 40; with --composition at most 200)"
    )
    train.add_argument(
        "--model",
        default="{}",
        help="JSON of the model's arguments (SODNet, or CompositionTc / CompositionForestTc with --composition / "
        """--forest, e.g. '{"oliynyk_descriptors": true}')""",
    )
    train.add_argument(
        "--composition",
        action="store_true",
        help="train a CompositionTc (composition statistics + retrieval; minutes on a CPU) instead of a SODNet",
    )
    train.add_argument(
        "--forest",
        action="store_true",
        help="train a CompositionForestTc (extra trees on composition statistics; seconds) instead of a SODNet",
    )
    train.add_argument(
        "--train",
        default="{}",
        help="""JSON of TrainConfig fields, e.g. '{"lr": 0.001, "batch_size": 16}' (CompositionTrainConfig with """
        """--composition, CompositionForestConfig with --forest, e.g. '{"n_estimators": 100}')""",
    )
    train.add_argument(
        "--init-from",
        default=None,
        help="fine-tune this trained SODNet folder (e.g. a member of the shipped ensemble) instead of a new model",
    )
    train.add_argument(
        "--memory-data",
        default=None,
        help="extra records a retrieval model (--model '{\"retrieval_neighbors\": 32}') reads as neighbours but "
        "does not train on, from chemical systems absent from the training data: formulas_new_systems (the "
        "SuperCon formula table), 3dsc_new_systems or 3dsc_and_formulas_new_systems",
    )
    train.add_argument(
        "--forest-state",
        action="store_true",
        help="train a SODNet that reads, as its state, the ln Tc of a CompositionForestTc that never saw the "
        "structure (the shipped ensemble's sodnet_forest_state members); --out then holds the forest beside it, "
        "and predict --model OUT reads both",
    )
    train.add_argument(
        "--extra-data",
        default=None,
        help="extra records the forests of --forest or --forest-state grow on (as --memory-data names them)",
    )
    train.add_argument(
        "--extra-scope",
        choices=("system", "compound"),
        default="system",
        help="which --extra-data records a forest grows on: those of chemical systems absent from the whole dataset "
        "(default), or those at least 0.02 (atom-fraction L1) from every structure the forest does not grow on "
        "(the shipped members' rule: the doping series of a held-out compound stay)",
    )
    train.add_argument(
        "--teacher",
        default=None,
        help="shipped model name or model folder (e.g. a 'train --forest' run's model/) whose predictions label "
        "doped copies of the training structures, which SODNet trains on beside them; for an honest test score "
        "it must not have seen the fold's validation or test structures (a retrieval SODNet keeps the copies out "
        "of its memory)",
    )
    train.add_argument(
        "--doped-copies",
        type=_at_least(1),
        default=None,
        help=f"doped copies per training structure with --teacher (default {DEFAULT_DOPED_COPIES})",
    )
    train.add_argument("--out", required=True, help="run folder (checkpoints; resumes if interrupted)")
    train.add_argument("--accelerator", default=None, help="Lightning accelerator: cpu (default), gpu, auto")
    train.add_argument("--devices", default=None, help="Lightning devices, e.g. 4 or auto (default 1)")
    train.add_argument("--strategy", default=None, help="Lightning strategy, e.g. ddp (default: Lightning's choice)")
    train.add_argument(
        "--num-nodes", type=_at_least(1), default=None, help="Lightning nodes for multi-node DDP (default 1)"
    )
    add_threads(train)
    train.set_defaults(func=_cmd_train)

    from matgl_supercon.benchmarks._names import MODELS, TASK_NAMES

    bench = sub.add_parser("benchmark", help="run one leaderboard cell (model x task) into Matbench results files")
    bench.add_argument("task", choices=sorted(TASK_NAMES), help="benchmark task")
    bench.add_argument("--model", required=True, choices=MODELS, help="leaderboard model")
    bench.add_argument("--folds", nargs="+", type=_at_least(0), default=None, help="folds to run now (default all)")
    bench.add_argument("--data", default=None, help="data root (default $MATGL_SUPERCON_DATA)")
    bench.add_argument("--out", default="benchmarks/results/tasks", help="results root")
    bench.add_argument("--runs", default="runs/benchmarks", help="checkpoints of the GNN models")
    bench.add_argument(
        "--seed", type=int, default=0, help="seed of the models and of the validation hold-out (default 0)"
    )
    bench.add_argument(
        "--epochs", type=_at_least(1), default=None, help=f"GNN epochs (default {DEFAULT_BENCHMARK_EPOCHS})"
    )
    bench.add_argument("--model-args", default="{}", help="JSON of SODNet / MEGNet / CompositionForestTc arguments")
    bench.add_argument(
        "--train", default="{}", help="JSON of TrainConfig fields (CompositionForestConfig fields for a forest)"
    )
    add_threads(bench)
    bench.set_defaults(func=_cmd_benchmark)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mgl-supercon``."""
    args = build_parser().parse_args(argv)
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    try:
        return int(args.func(args))
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`mgl-supercon predict ... | head`): stop quietly, as other Unix tools do, instead of
        # a traceback, and keep Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool that SIGPIPE stopped


if __name__ == "__main__":
    sys.exit(main())
