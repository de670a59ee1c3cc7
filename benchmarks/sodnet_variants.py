"""Accuracy against cost of the SODNet configurations tried, on the SuperCon3D paper protocol (all/all).

Usage:
    python benchmarks/sodnet_variants.py --data ../shared/data [--variants blocks2_composition ...] [--folds 0 1]
        [--threads 2] [--workers 4] [--accelerator gpu]

Each variant runs ``benchmarks/supercon3d_sodnet.py --regimes all --folds ...`` (default fold 0) into
``benchmarks/results/sodnet_variants/<variant>/`` (checkpoints under ``runs/sodnet_variants/<variant>``), so
a finished fold is not rerun. ``--workers W`` runs each variant's folds in W processes at once (round robin),
all variants side by side, e.g. to share one GPU; the default configuration's (``DEFAULT_VARIANT``) folds are
those of ``benchmarks/results/supercon3d_sodnet``. Writes ``benchmarks/results/sodnet_variants/README.md``: test MAE
and R2 over the folds run, the comparison with the base configuration on those folds, parameters, and training seconds
per epoch as measured (the timing column depends on
how many threads the run had and on what else ran beside it, so compare timings only within one session).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from matgl_supercon.benchmarks import fold_summary, mae, r2
from matgl_supercon.models import SODNet

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "sodnet_variants"
#: The configuration each variant changes: SODNet's defaults until 2026-11-27 (a free per-element embedding, no
#: weight average), pinned here so that every row keeps its meaning after the defaults moved.
BASE = {"global_context": True, "composition_context": True, "learned_element_embedding": True}
TRAIN = {"lr": 0.002, "weight_decay": 0.01, "ema_decay": 0.0}
#: The variant that became SODNet's default on 2026-11-27 (all/all 0.661 against the base's 0.684, better on 9 of
#: 10 folds; all->O 0.755 against 0.796; O/O 0.771 against 0.784); its folds are those of ``supercon3d_sodnet.py``
#: run with the package defaults.
DEFAULT_VARIANT = "descriptors_only_ema0.995"
#: The variants that change only the model's size (blocks, irreps widths, graph size), labelled in the figure.
SIZES = (
    "blocks1_composition",
    "blocks2_composition",
    "blocks2_composition_k32_8A",
    "blocks3_composition_wide",
    "blocks6_paper_size_k32_8A",
)
#: name -> (SODNet arguments, TrainConfig fields on top of TRAIN); 40 epochs, all/all fold 0.
VARIANTS: dict[str, tuple[dict, dict]] = {
    "blocks2_no_composition": ({"global_context": True, "learned_element_embedding": True}, {}),
    "blocks1_composition": ({**BASE, "n_blocks": 1}, {}),
    "blocks2_composition": (BASE, {}),
    "blocks2_composition_k32_8A": ({**BASE, "cutoff": 8.0, "max_neighbors": 32}, {}),
    "blocks3_composition_wide": (
        {**BASE, "n_blocks": 3, "irreps_node": "64x0e+16x1o+8x2e", "irreps_ffn": "128x0e+32x1o+16x2e"},
        {},
    ),
    # The paper's size (6 blocks, 128x0e+64x1o+32x2e, K=32, 8 A); only practical on a GPU, and there only for a
    # short schedule: 15 epochs fit one device session (the small models' best validation epoch is 12-36 of 40).
    "blocks6_paper_size_k32_8A": (
        {
            **BASE,
            "n_blocks": 6,
            "irreps_node": "128x0e+64x1o+32x2e",
            "irreps_ffn": "256x0e+128x1o+64x2e",
            "cutoff": 8.0,
            "max_neighbors": 32,
        },
        {"max_epochs": 15},
    ),
    # The base trained on 2.4x the structures (EXTRA_DATA below); 25 epochs are 1.5x its 40 epochs of steps.
    "blocks2_composition_plus_3dsc_new_systems": (BASE, {"max_epochs": 25}),
    # The base trained beside 7,138 formula-only SuperCon rows as one-site virtual crystals (6.6x the samples,
    # but a virtual crystal has no edges and costs a fraction of a structure); 15 epochs are 2.5x its steps.
    "blocks2_composition_plus_formulas_new_systems": (BASE, {"max_epochs": 15}),
    # As above, plus each training structure's own virtual crystal with its label: the same compounds in both
    # forms, so what the formula rows teach can carry over to crystals.
    "plus_formulas_and_virtual_copies": (BASE, {"max_epochs": 15}),
    # That model (INIT_FROM below) fine-tuned on the SuperCon3D structures alone: pre-training, then fine-tuning.
    "formulas_pretrained_finetuned": (BASE, {"max_epochs": 20, "lr": 0.001, "warmup_epochs": 1}),
    # The formulas again, now for SODNet's composition head only: a graph without edges is predicted from its
    # composition alone, so the formula rows train that head and leave the structure part to real crystals.
    # Measured worse (folds 0-3: 0.704 against the base's 0.664): the head alone reads SuperCon3D compositions
    # at 0.82-1.06 ln K (composition_head_alone.py), so the structure part carries 0.52-0.70 ln K of corrections.
    "composition_head_plus_formulas_new_systems": ({**BASE, "composition_head": True}, {"max_epochs": 15}),
    # The training structures' own virtual crystals put SuperCon3D's compositions in front of the head too:
    # worse still (folds 0-1: 0.744 / 0.758; the head alone 0.76 / 0.83).
    "composition_head_plus_formulas_and_virtual_copies": (
        {**BASE, "composition_head": True},
        {"max_epochs": 15},
    ),
    # The two changes that each gained a little, together: the formulas beside the structures and the
    # regularised recipe of readout_dropout0.2_wd0.05_ema0.995 (below). They do not add up: folds 0-3 0.666,
    # against 0.643 for the recipe alone, 0.656 for the formulas alone and 0.664 for the base.
    "regularised_plus_formulas_new_systems": (
        {**BASE, "readout_dropout": 0.2},
        {"max_epochs": 15, "weight_decay": 0.05, "ema_decay": 0.995},
    ),
    # Regularisation: the base overfits (train MAE 0.30 ln K, validation 0.60-0.75, best epoch 13-35 of 40).
    "ema0.995": (BASE, {"ema_decay": 0.995}),
    "valence_ema0.995": ({**BASE, "valence_descriptors": True}, {"ema_decay": 0.995}),
    "descriptors_only_ema0.995": ({**BASE, "learned_element_embedding": False}, {"ema_decay": 0.995}),
    # The paper trains SODNet for 150 epochs (its public scripts: lr 5e-5, batch 64, test MAE at the best
    # validation epoch); every CPU row here trained 40 or fewer. The default recipe over the paper's schedule
    # length (warm-up and cosine stretched with it; early stopping after 40 epochs without a better validation MAE).
    "descriptors_only_ema0.995_epochs150": (
        {**BASE, "learned_element_embedding": False},
        {"ema_decay": 0.995, "max_epochs": 150},
    ),
    # The public scripts' whole recipe on the default model: lr 5e-5 down to 1e-6, batch 64, weight decay 5e-3, no
    # weight average, 150 epochs (their warm-up and cosine); early stopping only after 150 epochs without a better
    # validation MAE, as their scripts keep the best validation epoch of all 150.
    "descriptors_only_paper_recipe": (
        {**BASE, "learned_element_embedding": False},
        {
            "lr": 5e-5,
            "min_lr": 1e-6,
            "batch_size": 64,
            "weight_decay": 5e-3,
            "ema_decay": 0.0,
            "max_epochs": 150,
            "patience": 150,
        },
    ),
    "readout_dropout0.2_wd0.05_ema0.995": (
        {**BASE, "readout_dropout": 0.2},
        {"weight_decay": 0.05, "ema_decay": 0.995},
    ),
    # Element descriptors instead of free element embeddings (the best single CPU recipe above) trained beside both
    # extra sets: descriptors carry what a new chemical system teaches to the test systems, as the forest's Magpie
    # features do (the forest gains 0.618 -> 0.546 from the same rows, the base SODNet 0.684 -> 0.672).
    # Measured worse: folds 0-3 0.682 against 0.660 for the descriptor model alone and 0.664 for the base; its
    # errors correlate least with the base's (0.80), yet as a fifth member of the shipped four it moves their
    # 0.623 to 0.621 on those folds. The neural model does not use rows that the forest turns into 0.07 ln K.
    "descriptors_only_ema0.995_plus_3dsc_and_formulas": (
        {**BASE, "learned_element_embedding": False},
        {"max_epochs": 15, "ema_decay": 0.995},
    ),
    # Four times the optimiser steps with more gradient noise (the base overfits), its other settings unchanged.
    # 10 folds: 0.672 ± 0.036 (R2 0.649) against the base's 0.684, better or equal on 8 folds (paired difference
    # -0.012 ± 0.006 se); all->O 0.779 against 0.796. About twice the base's epoch time (55 s per epoch with two
    # processes on 2 cores) for a gain smaller than the descriptor recipe's, so batch 32 stayed the default.
    "batch8_lr0.001": (BASE, {"batch_size": 8, "lr": 0.001}),
    # A pretrained universal potential's view of each crystal beside the occupancies: CHGNet's features of the
    # ordered approximant as a state vector (``--state chgnet``). A frozen CHGNet alone, through a random forest,
    # reaches 0.650 ln K on all/all (``../pretrained_features.md``), ahead of SODNet trained from scratch. Fed to
    # SODNet it did not help: 0.682 over 10 folds against the base's 0.684.
    "chgnet_state": ({**BASE, "state_dim": 66}, {}),
    # Composition statistics through per-feature periodic embeddings (PLR; Gorishniy et al. 2022) instead of a plain
    # MLP: on the statistics alone they take an MLP from 0.708 to 0.667 ln K, three averaged to 0.641, against the
    # random forest's 0.629 (results/composition_mlp.md, 10 folds).
    "periodic_composition_valence": ({**BASE, "valence_descriptors": True, "composition_encoding": "periodic"}, {}),
    "periodic_composition_head_valence": (
        {**BASE, "valence_descriptors": True, "composition_encoding": "periodic", "composition_head": True},
        {},
    ),
    # Fold 0: 0.698 and 0.681 against the base's 0.648, training MAE 0.08 and 0.06 at epoch 40 (other variants
    # end near 0.28): the embedded statistics let the network memorise compositions. The same with the regularised
    # recipe's dropout, weight decay and weight average: fold 0 0.654, as the regularised recipe without them (0.654).
    "periodic_composition_valence_regularised": (
        {**BASE, "valence_descriptors": True, "composition_encoding": "periodic", "readout_dropout": 0.2},
        {"weight_decay": 0.05, "ema_decay": 0.995},
    ),
    # Gaussian noise on every position in each training batch (TrainConfig.position_noise, in Å; Noisy Nodes,
    # Godwin et al. 2022), on today's default: the models overfit (train MAE ~0.3 ln K against 0.6-0.75 on
    # validation), and a Tc that moves with a tenth of an Ångström of displacement is not one to learn.
    # Measured no better (2026-11-28): 0.1 Å folds 0-1 0.656 / 0.632 against the default's 0.647 / 0.645; 0.2 Å
    # fold 0 0.670. The training MAE rises (0.43 against 0.40 at epoch 40), the validation MAE does not fall.
    "descriptors_only_ema0.995_noise0.1": (
        {**BASE, "learned_element_embedding": False},
        {"ema_decay": 0.995, "position_noise": 0.1},
    ),
    "descriptors_only_ema0.995_noise0.2": (
        {**BASE, "learned_element_embedding": False},
        {"ema_decay": 0.995, "position_noise": 0.2},
    ),
    # The two element-input changes that each gained on the base, together: today's default (descriptors, no free
    # embedding) with Magpie's valence-electron counts added to the descriptor table. Measured no better
    # (2026-11-28): folds 0-2 0.660 / 0.660 / 0.676 against the default's 0.647 / 0.645 / 0.684 (0.665 vs 0.659).
    "descriptors_valence_ema0.995": (
        {**BASE, "learned_element_embedding": False, "valence_descriptors": True},
        {"ema_decay": 0.995},
    ),
    # Today's default with the descriptor columns that took the composition forest from 0.547 to 0.530 ln K on
    # 2026-12-06 (``../element_properties.md``): each element's solid (log resistivity, elemental Tc, metallic radius,
    # bulk modulus) and Magpie's DFT ground state (volume, band gap, magnetic moment, space group; covalent radius).
    # Measured worse (2026-12-06), folds 0-1: 0.677 / 0.676 against the default's 0.647 / 0.645 (two seeds of the
    # default differ by 0.022 per fold), so folds 2-9 were not run. Like the valence counts, columns that help the
    # trees do not help the network (the composition statistics of its context were still float32 then).
    "descriptors_solid_ground_state_ema0.995": (
        {**BASE, "learned_element_embedding": False, "solid_descriptors": True, "ground_state_descriptors": True},
        {"ema_decay": 0.995},
    ),
    # Today's default with another seed (initial weights, batch order, dropout), run with the split-input kernels of
    # 2026-11-28 (the default's own folds ran on e3nn's generated code: a rounding-level difference that also moves
    # the training path). The spread between the two says which differences in this table are noise. Measured
    # (2026-11-28, 10 folds): 0.675 ± 0.036 against seed 0's 0.661; per fold +0.058 to -0.011 (sd of the paired
    # differences 0.022): a single fold moves by up to 0.06 ln K with the seed alone, and a 10-fold mean by 0.014,
    # as much as most rows here differ. The two seeds averaged: 0.652 (the shipped four configurations: 0.636).
    "descriptors_only_ema0.995_seed1": (
        {**BASE, "learned_element_embedding": False},
        {"ema_decay": 0.995, "seed": 1},
    ),
    # Today's default with a retrieval context (TabR, Gorishniy et al. ICLR 2024): each site's readout also reads the
    # ln Tc of the 32 training structures nearest in learned composition space, leave-one-out in training. On the
    # composition statistics alone the same module with a small predictor, three seeds averaged, measured 0.622 ln K
    # over 10 folds against the forest's 0.629 (``../composition_retrieval.md``; periodic MLPs: 0.641). Measured
    # here (2026-11-28, 10 folds): 0.684 alone, but the best ensemble partner so far (see ENSEMBLES).
    "descriptors_only_ema0.995_retrieval32": (
        {**BASE, "learned_element_embedding": False, "retrieval_neighbors": 32},
        {"ema_decay": 0.995},
    ),
    # The same without the structure's own periodic encoding of its composition in the retrieval context: periodic
    # encodings let SODNet memorise training compositions (see the periodic_composition rows), and the retrieval
    # model above fits its training set to 0.06 ln K by epoch 40 while its validation MAE is best at epoch 13-16.
    # Measured (2026-11-28), folds 0-1: 0.722 / 0.657 against 0.670 / 0.634 with the encoding: worse, so not pursued.
    "descriptors_only_ema0.995_retrieval32_neighbors_only": (
        {**BASE, "learned_element_embedding": False, "retrieval_neighbors": 32, "retrieval_query_encoding": False},
        {"ema_decay": 0.995},
    ),
    # The retrieval model on a 20-epoch schedule: its validation MAE is best at epoch 13-16 of 40 and its training
    # MAE falls to 0.06, so a shorter schedule (the learning rate decays sooner) may overfit less, at half the cost.
    # Measured (2026-11-28), folds 0-1: 0.660 / 0.635 (40 epochs: 0.670 / 0.634; the default 0.647 / 0.645); beside
    # the default 0.606 / 0.596 (40 epochs: 0.622 / 0.602). Folds 0-5: 0.668 alone (40 epochs 0.666), 0.620 beside
    # the default (the same): the same accuracy at half the training cost, so the shipped 40-epoch member stays.
    "descriptors_only_ema0.995_retrieval32_epochs20": (
        {**BASE, "learned_element_embedding": False, "retrieval_neighbors": 32},
        {"ema_decay": 0.995, "max_epochs": 20},
    ),
    # The retrieval model (20 epochs) with the formula-only SuperCon table in its memory: 7,138 formulas of chemical
    # systems absent from SuperCon3D, as one-site virtual crystals, read as neighbours but not trained on (training
    # on them made SODNet worse, see the plus_formulas rows, while a forest gains 0.618 -> 0.549 from them). On the
    # composition statistics alone the retrieval network gained from the same memory on folds 0-1: 0.622 -> 0.581.
    # Measured (2026-11-28, 10 folds): 0.635 ± 0.067 (R2 0.666) against 0.661 for the default and 0.668 (folds 0-5)
    # for the same model without the formulas; better than the default on 8 folds (fold 8: 0.586 against 0.579,
    # fold 9: 0.806 against 0.727).
    # Its errors correlate with the default's at 0.76: the two averaged score 0.604 (R2 0.706), ahead of every
    # larger ensemble here, so they are the shipped ensemble since 2026-11-28. 29 s/epoch with two training
    # processes on 2 cores (the memory's 8,400 keys are re-encoded for every batch), 20 epochs.
    "descriptors_only_ema0.995_retrieval32_epochs20_formula_memory": (
        {**BASE, "learned_element_embedding": False, "retrieval_neighbors": 32},
        {"ema_decay": 0.995, "max_epochs": 20},
    ),
    # The formula-memory model with another seed: how much a second seed of the strongest member adds to the
    # shipped pair (two seeds of the default averaged: 0.652 against 0.661 for one). Measured (2026-11-28), folds
    # 0-5: 0.577 / 0.589 / 0.604 / 0.655 / 0.626 / 0.644, mean 0.616 (seed 0: 0.614 on the same folds, per fold up
    # to 0.09 apart); the default with both seeds 0.576 against 0.590 for the shipped pair on the same folds.
    # All 10 folds (folds 6-9 on 2026-12-04: 0.690 / 0.592 / 0.618 / 0.730): 0.633 (seed 0: 0.635); the default
    # with both seeds 0.592 (R2 0.714) against the shipped pair's 0.604 (0.706).
    "descriptors_only_ema0.995_retrieval32_epochs20_formula_memory_seed1": (
        {**BASE, "learned_element_embedding": False, "retrieval_neighbors": 32},
        {"ema_decay": 0.995, "max_epochs": 20, "seed": 1},
    ),
    # The formula-memory model with each fold's own memory (``--memory-scope fold``): the formula rows of every
    # chemical system absent from the fold's validation and test blocks, about 10,400 per fold instead of 7,138.
    # The 3,300 more rows are the systems SuperCon3D's training block shares with the table, the nearest ones.
    # A first run (commit ee81492) let training structures read those rows of their own doping series: train MAE
    # 0.29-0.31 by epoch 4 against 0.52-0.56 (copying labels no test structure can see), so memory-set rows are
    # now hidden from training queries of their own chemical system (``LabelRetrieval``'s ``cross_system_only``;
    # a no-op for the benchmark-wide memory, whose systems are all new). Measured (2026-12-04), folds 0-3:
    # 0.626 / 0.630 / 0.619 / 0.649, mean 0.631 (benchmark-wide memory: 0.634, its second seed 0.606); beside the
    # default 0.599 (0.596 with the benchmark-wide memory): no gain, so folds 4-9 were not run. 55 s/epoch
    # with two training processes (and a forest) on 2 cores.
    "descriptors_only_ema0.995_retrieval32_epochs20_formula_memory_per_fold": (
        {**BASE, "learned_element_embedding": False, "retrieval_neighbors": 32},
        {"ema_decay": 0.995, "max_epochs": 20},
    ),
    # Today's default trained beside 3DSC_MP's superconductors with each fold's compound scope
    # (``supercon3d_sodnet.py --extra-scope compound``): about 3,500 structures per fold, every one 0.02 or more
    # (atom-fraction L1) from the fold's validation and test compounds, SuperCon3D's chemical systems included. The
    # forests gained from the formula rows of that scope (system scope 0.524 -> 0.499, ``../formula_scope.md``);
    # the network gained nothing from 3DSC_MP's new systems alone (blocks2_composition_plus_3dsc_new_systems): the
    # doping series of the training compounds are what a structure model has not seen. 3.8x the samples, so
    # 15 epochs are 1.4x the default's 40 epochs of steps. Measured worse (2026-12-07, 35 s/epoch with two training
    # processes on 2 cores), folds 0-1: 0.658 / 0.699 against the default's 0.647 / 0.645 (best validation 0.666 /
    # 0.672 against 0.638 / 0.660); errors correlate 0.90 with the default's, and in its place in the shipped gated
    # blend (the shipped weights) folds 0-1 score 0.489 against 0.478. So folds 2-9 were not run: MP's relaxed
    # parent cells with synthetic dopants teach the network less than they cost it on SuperCon3D's ICSD cells.
    "descriptors_only_ema0.995_plus_3dsc_held_out_compounds": (
        {**BASE, "learned_element_embedding": False},
        {"ema_decay": 0.995, "max_epochs": 15},
    ),
}

#: Variants trained with ``supercon3d_sodnet.py --extra-data``: name -> extra data set.
EXTRA_DATA = {
    "blocks2_composition_plus_3dsc_new_systems": "3dsc_new_systems",
    "blocks2_composition_plus_formulas_new_systems": "formulas_new_systems",
    "plus_formulas_and_virtual_copies": "formulas_new_systems",
    "composition_head_plus_formulas_new_systems": "formulas_new_systems",
    "composition_head_plus_formulas_and_virtual_copies": "formulas_new_systems",
    "regularised_plus_formulas_new_systems": "formulas_new_systems",
    "descriptors_only_ema0.995_plus_3dsc_and_formulas": "3dsc_and_formulas_new_systems",
    "descriptors_only_ema0.995_plus_3dsc_held_out_compounds": "3dsc_new_systems",
}
#: Extra-data variants whose extra set is filtered per fold (``supercon3d_sodnet.py --extra-scope compound``).
COMPOUND_EXTRA = ("descriptors_only_ema0.995_plus_3dsc_held_out_compounds",)

#: The retrieval model with the SuperCon formula table in its memory.
FORMULA_MEMORY = "descriptors_only_ema0.995_retrieval32_epochs20_formula_memory"
#: Retrieval variants with extra records in their memory (``supercon3d_sodnet.py --memory-data``): name -> data set.
MEMORY_DATA = {
    FORMULA_MEMORY: "formulas_new_systems",
    f"{FORMULA_MEMORY}_seed1": "formulas_new_systems",
    f"{FORMULA_MEMORY}_per_fold": "formulas_new_systems",
}
#: Memory variants whose memory set is filtered per fold (``supercon3d_sodnet.py --memory-scope fold``).
FOLD_MEMORY = (f"{FORMULA_MEMORY}_per_fold",)

#: Variants trained with ``supercon3d_sodnet.py --virtual-copies``.
VIRTUAL_COPIES = ("plus_formulas_and_virtual_copies", "composition_head_plus_formulas_and_virtual_copies")

#: Variants trained with ``supercon3d_sodnet.py --state``: name -> state features.
STATE = {"chgnet_state": "chgnet"}

#: Variants fine-tuned from another variant's fold models (``supercon3d_sodnet.py --init-runs``): name -> that one.
INIT_FROM = {"formulas_pretrained_finetuned": "blocks2_composition_plus_formulas_new_systems"}

#: The configurations of the shipped ensemble until the morning of 2026-11-28, which other rows extend.
SHIPPED_FOUR = (
    "blocks2_composition",
    "valence_ema0.995",
    "descriptors_only_ema0.995",
    "readout_dropout0.2_wd0.05_ema0.995",
)
#: Mixed-configuration ensembles: mean ln Tc of these variants' models on each fold where all of them ran. The
#: errors of different configurations correlate less (0.87-0.89) than those of one configuration trained twice
#: (EMA: 0.95), so averaging configurations is where an ensemble gains.
ENSEMBLES: dict[str, tuple[str, ...]] = {
    "base + valence_ema0.995": ("blocks2_composition", "valence_ema0.995"),
    "base + no_composition + valence_ema0.995": (
        "blocks2_composition",
        "blocks2_no_composition",
        "valence_ema0.995",
    ),
    # A third configuration adds almost nothing to the first two (folds 0-3: 0.637 -> 0.636).
    "base + valence_ema0.995 + blocks3_wide": (
        "blocks2_composition",
        "valence_ema0.995",
        "blocks3_composition_wide",
    ),
    # Four configurations, one trained with extra data (its errors correlate least with the base's).
    "base + valence_ema0.995 + blocks3_wide + plus_3dsc_new_systems": (
        "blocks2_composition",
        "valence_ema0.995",
        "blocks3_composition_wide",
        "blocks2_composition_plus_3dsc_new_systems",
    ),
    # Four configurations that each train in about 15 CPU minutes per fold (no GPU, no extra data).
    "base + valence_ema0.995 + descriptors_only_ema0.995 + readout_dropout0.2_wd0.05_ema0.995": SHIPPED_FOUR,
    # The shipped four plus the base trained beside the formula table: 0.636 -> 0.635 over 10 folds, so the
    # shipped ensemble was not rebuilt.
    "shipped four + plus_formulas_new_systems": (
        *SHIPPED_FOUR,
        "blocks2_composition_plus_formulas_new_systems",
    ),
    # The shipped four plus the CHGNet-state model: 0.636 -> 0.633 over 10 folds, not worth asking every user of
    # the pretrained ensemble to install CHGNet and run it on each structure, so the shipped ensemble stays.
    "shipped four + chgnet_state": (
        *SHIPPED_FOUR,
        "chgnet_state",
    ),
    # The shipped four plus the descriptor model trained beside both extra sets (folds 0-3).
    "shipped four + descriptors_only_plus_3dsc_and_formulas": (
        *SHIPPED_FOUR,
        "descriptors_only_ema0.995_plus_3dsc_and_formulas",
    ),
    # Batch 8 as a fifth member, and in place of the batch-32 base.
    "shipped four + batch8_lr0.001": (*SHIPPED_FOUR, "batch8_lr0.001"),
    "shipped four with batch8_lr0.001 for the base": ("batch8_lr0.001", *SHIPPED_FOUR[1:]),
    # Two seeds of one configuration: how much of an ensemble's gain averaging seeds alone gives.
    "default + default seed 1": ("descriptors_only_ema0.995", "descriptors_only_ema0.995_seed1"),
    # The retrieval model's test errors correlate with the default's at 0.78 (pooled over 10 folds), other
    # configurations' at 0.84-0.88 and the default's second seed's at 0.92: alone it scores 0.684, beside the default
    # 0.632, beside the shipped four 0.623 (from 0.636). The five are the shipped ensemble since 2026-11-28.
    "default + retrieval32": ("descriptors_only_ema0.995", "descriptors_only_ema0.995_retrieval32"),
    "shipped four + retrieval32": (*SHIPPED_FOUR, "descriptors_only_ema0.995_retrieval32"),
    # The retrieval model with the formula table in its memory, beside the default, in place of the retrieval
    # member of the shipped five, and as a sixth member.
    "default + formula_memory": ("descriptors_only_ema0.995", FORMULA_MEMORY),
    "shipped four + formula_memory": (*SHIPPED_FOUR, FORMULA_MEMORY),
    "default + formula_memory, two seeds": ("descriptors_only_ema0.995", FORMULA_MEMORY, f"{FORMULA_MEMORY}_seed1"),
    # Each fold's own formula memory (the rows of every system outside its val+test blocks), instead of or beside
    # the benchmark-wide one.
    "default + formula_memory_per_fold": ("descriptors_only_ema0.995", f"{FORMULA_MEMORY}_per_fold"),
    "default + formula_memory + formula_memory_per_fold": (
        "descriptors_only_ema0.995",
        FORMULA_MEMORY,
        f"{FORMULA_MEMORY}_per_fold",
    ),
    "shipped four + retrieval32 + formula_memory": (
        *SHIPPED_FOUR,
        "descriptors_only_ema0.995_retrieval32",
        FORMULA_MEMORY,
    ),
}
#: The SODNet configurations of the shipped ``SODNet-SuperCon3D`` ensemble (``make_pretrained.py`` packages their
#: fold models beside the composition members). Until 2026-11-28 afternoon "shipped four + retrieval32" (50
#: members, 0.623); then the default and the formula-memory model (20 members, 0.604); from 2026-12-04 also that
#: model's second seed (``SODNET_COMPARED``, 30 members, 0.592). Since 2026-12-06 afternoon the default alone: once
#: the forest members were grown on the new descriptors, the blend gave the SODNet members a weight of 0.10 and
#: scored 0.525 ln K held out with all three configurations or with the default alone (with either formula-memory
#: seed alone 0.526 and 0.525), and the default is the cheapest of them (no retrieval memory; a third of the SODNet
#: members to run).
SHIPPED_SODNET: tuple[str, ...] = (DEFAULT_VARIANT,)
#: The ensemble whose committed fold predictions ``sodnet_vs_forest.py`` compares with the forest (the shipped SODNet
#: configurations from 2026-12-04 to 2026-12-06).
SODNET_COMPARED = "default + formula_memory, two seeds"


def results_dir(name: str) -> Path:
    """Where a variant's per-fold test results live (the default's: ``results/supercon3d_sodnet``)."""
    return HERE / "results" / "supercon3d_sodnet" if name == DEFAULT_VARIANT else RESULTS / name


def runs_dir(name: str) -> Path:
    """Where a variant's fold models are trained (checkpoints; not committed)."""
    return Path("runs/supercon3d_sodnet") if name == DEFAULT_VARIANT else Path("runs/sodnet_variants") / name


def fold_predictions(name: str) -> dict[int, dict]:
    """Fold index -> ``{"ids", "y_true", "y_pred"}`` of every finished all/all fold of a variant."""
    files = sorted((results_dir(name) / "all").glob("fold_*.json"))
    return {int(f.stem.split("_")[1]): json.loads(f.read_text()) for f in files}


def variant_command(name: str, folds: list[int], args: argparse.Namespace) -> list[str]:
    """The ``supercon3d_sodnet.py`` command line that trains variant ``name`` on ``folds``."""
    kwargs, train = VARIANTS[name]
    command = [sys.executable, str(HERE / "supercon3d_sodnet.py"), "--regimes", "all", "--folds"]
    command += [str(k) for k in folds]
    command += ["--epochs", str(args.epochs), "--threads", str(args.threads), "--model", json.dumps(kwargs)]
    command += ["--train", json.dumps({**TRAIN, **train}), "--results", str(results_dir(name))]
    command += ["--runs", str(runs_dir(name)), "--accelerator", args.accelerator]
    if name in EXTRA_DATA:
        command += ["--extra-data", EXTRA_DATA[name]]
        command += ["--extra-scope", "compound"] if name in COMPOUND_EXTRA else []
    if name in MEMORY_DATA:
        command += ["--memory-data", MEMORY_DATA[name]]
        command += ["--memory-scope", "fold"] if name in FOLD_MEMORY else []
    if name in VIRTUAL_COPIES:
        command += ["--virtual-copies"]
    if name in STATE:
        command += ["--state", STATE[name]]
    if name in INIT_FROM:
        command += ["--init-runs", str(runs_dir(INIT_FROM[name]))]
    if args.data:
        command += ["--data", args.data]
    return command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--variants", nargs="*", default=[], help="variants to run now (default: none, tabulate)")
    parser.add_argument("--folds", nargs="+", type=int, default=[0], help="folds to run the variants on")
    parser.add_argument("--epochs", type=int, default=40, help="training epochs (the table's rows all used 40)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per process")
    parser.add_argument("--workers", type=int, default=1, help="processes per variant, each a share of the folds")
    parser.add_argument("--accelerator", default="cpu", help="Lightning accelerator (cpu, gpu)")
    args = parser.parse_args()
    commands = []
    for name in args.variants:
        if name not in VARIANTS:
            raise SystemExit(f"unknown variant {name!r}; choose from {list(VARIANTS)}")
        for share in range(min(args.workers, len(args.folds))):
            commands.append(variant_command(name, args.folds[share :: args.workers], args))
    # All at once: a worker that dies leaves its finished folds written and its current fold checkpointed.
    running = [subprocess.Popen(command) for command in commands]
    failed = [" ".join(c) for c, process in zip(commands, running, strict=True) if process.wait() != 0]
    if failed:
        raise SystemExit("failed:\n" + "\n".join(failed))

    tabulated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    lines = [
        "# SODNet configurations: accuracy against cost (SuperCon3D all/all)",
        "",
        "Generated by `python benchmarks/sodnet_variants.py`; each variant was trained with "
        f"`benchmarks/supercon3d_sodnet.py --regimes all --folds K --epochs 40 --train '{json.dumps(TRAIN)}'`",
        "plus its own training settings; most ran on fold 0 only (`--folds` runs more).",
        f"Tabulated {tabulated}. A fold has 158 test structures;",
        "fold-to-fold spread of the MAE is about ±0.03 ln K, so differences below that are noise. Each row",
        "compares the variant with the base configuration (`blocks2_composition`, SODNet's default until",
        "2026-11-27) on the same folds: the base's MAE there, the correlation of the two models' test errors, and",
        "the MAE of their mean prediction (a two-member ensemble). The variant marked (default) is SODNet's default",
        "since 2026-11-27; its folds are `../supercon3d_sodnet`'s.",
        "Timings marked (gpu) are from `--accelerator gpu`: the k32_8A and blocks3_wide rows with `--workers 4` on",
        "one H100 shared by 8-12 training processes at once (2026-11-26; one process alone ran the base's epochs",
        "in about 4 s), `chgnet_state` folds 2-9 with `--workers 8 --threads 1` on one H200 (8 processes), and the",
        "paper-size row with `--workers 2 --threads 2` on one H200 (2 processes, 40 GB of GPU memory between them",
        "as nvidia-smi read it; 2026-11-27). The paper-size row trained 15 epochs, not 40 (a device session's time).",
        "The `plus_3dsc_new_systems` row adds 1,720 3DSC_MP structures in chemical systems absent from SuperCon3D",
        "to every training fold; the random forest with the same data: `../supercon3d_baselines_3dsc_new_systems.md`.",
        "The `plus_3dsc_held_out_compounds` row adds, per fold, the 3,480-3,548 3DSC_MP superconductors 0.02 or more",
        "(atom-fraction L1) from its validation and test compounds (`--extra-scope compound`), SuperCon3D's too.",
        "The `formulas` rows add 7,138 formula-only SuperCon rows (Stanev et al. 2018, Tc > 0) in chemical systems",
        "absent from SuperCon3D as one-site virtual crystals; `virtual_copies` also adds each training structure's",
        "own virtual crystal; `formulas_pretrained_finetuned` fine-tunes the `plus_formulas` fold models on the",
        "SuperCon3D structures alone; `composition_head` sends the formulas to SODNet's composition head only",
        "(a graph without edges is predicted from its composition). The forest with the same formulas:",
        "`../supercon3d_baselines_formulas_new_systems.md`. `chgnet_state` feeds every site's readout the",
        "pretrained CHGNet potential's features of the structure's ordered approximant (`--state chgnet`; the",
        "forests with the same features: `../pretrained_features.md`).",
        "`descriptors_only_ema0.995_plus_3dsc_and_formulas` trains the element-descriptor model beside both extra",
        "sets (1,720 structures and 7,138 formulas; the forest with the same rows:",
        "`../supercon3d_baselines_3dsc_and_formulas_new_systems.md`).",
        "The `periodic_composition` rows pass the composition statistics through per-feature periodic embeddings",
        '(`composition_encoding="periodic"`; Gorishniy et al., NeurIPS 2022) before the context MLP (and the',
        "composition head); on the statistics alone such an MLP against the forest: `../composition_mlp.md`. Their",
        "epoch times were measured with three processes sharing 2 cores (2026-11-27).",
        "",
        "| variant | SODNet arguments | training (besides the above) | parameters | folds | test MAE ln K | test R2 "
        "| base's MAE, same folds | error correlation with base | MAE of mean with base "
        "| s / epoch (as measured) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base_folds = fold_predictions("blocks2_composition")
    points = []  # (variant, parameters, its MAE minus the base's on the same folds, folds run) for the figure
    for name, (kwargs, train) in VARIANTS.items():
        label = f"{name} (default)" if name == DEFAULT_VARIANT else name
        parameters = SODNet(**kwargs).num_parameters
        head = f"| {label} | `{json.dumps(kwargs)}` | `{json.dumps(train)}` | {parameters:,}"
        folds = fold_predictions(name)
        if not folds:
            lines.append(f"{head} | none | not run | | | | | |")
            continue
        scores = []
        for k, data in folds.items():
            if data["ids"] != base_folds[k]["ids"]:
                raise ValueError(f"{name} fold {k}: test ids differ from the base's")
            t, p, base = (np.array(x) for x in (data["y_true"], data["y_pred"], base_folds[k]["y_pred"]))
            scores.append(
                (mae(t, p), r2(t, p), mae(t, base), np.corrcoef(p - t, base - t)[0, 1], mae(t, (p + base) / 2))
            )
        means = np.mean(scores, axis=0)
        points.append((name, parameters, float(means[0] - means[2]), len(folds)))
        cells = " | ".join(f"{v:.3f}" if i != 3 else f"{v:.2f}" for i, v in enumerate(means))
        lines.append(f"{head} | {', '.join(map(str, folds))} | {cells} | {epoch_seconds(name)} |")
    lines += ensemble_lines()
    lines += [
        "",
        "## The figure",
        "",
        "`accuracy_cost.png`: each variant's test MAE minus the base's on the same folds (so that rows run on",
        "different folds compare) against its parameter count; the sizes tried are labelled.",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "README.md").write_text("\n".join(lines) + "\n")
    footer = f"python benchmarks/sodnet_variants.py; {platform.machine()} {platform.system()}; {tabulated}"
    plot_accuracy_cost(points, RESULTS / "accuracy_cost.png", footer)
    print("\n".join(lines))


def plot_accuracy_cost(points: list[tuple[str, int, float, int]], path: Path, footer: str) -> None:
    """Each variant's MAE minus the base's on the same folds against its parameters (``SIZES`` and the default named).

    Args:
        points: ``(variant, parameters, MAE difference, folds run)`` per variant with results.
        path: The PNG to write.
        footer: Command, machine and date, printed under the axes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for name, parameters, difference, n_folds in points:
        named = name in SIZES or name == DEFAULT_VARIANT
        colour = "C3" if name == DEFAULT_VARIANT else "C0" if name in SIZES else "0.65"
        ax.scatter(parameters, difference, s=12 + 6 * n_folds, color=colour, zorder=3 if named else 2)
        if named:
            label = f"{name} (default)" if name == DEFAULT_VARIANT else name
            ax.annotate(
                f"{label}, {n_folds} fold{'s' * (n_folds > 1)}",
                (parameters, difference),
                fontsize=6,
                xytext=(4, 3),
                textcoords="offset points",
            )
    ax.axhline(0.0, color="0.3", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("test MAE minus the base's on the same folds, ln K")
    ax.set_title(
        "SODNet configurations, SuperCon3D all/all (blue: sizes; grey: other changes;\n"
        "marker area grows with the folds run; below 0 is better than the base)",
        fontsize=8,
    )
    fig.text(0.01, 0.005, footer, fontsize=6, color="0.4")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def epoch_seconds(name: str) -> str:
    """Mean training seconds per epoch of a variant's all/all folds, per accelerator (older entries ran on the CPU).

    Other regimes' folds (e.g. ordered-only, fewer structures per epoch) share the timing file and are left out.
    """
    path = results_dir(name) / "timing.json"
    timing = json.loads(path.read_text()) if path.exists() else {}
    by_device: dict[str, list[float]] = {}
    for key, entry in timing.items():
        if not key.startswith("all/"):
            continue
        by_device.setdefault(entry.get("accelerator", "cpu"), []).append(entry["seconds_per_epoch"])
    return ", ".join(f"{np.mean(v):.1f} ({device})" for device, v in sorted(by_device.items())) or "n/a"


def ensemble_lines() -> list[str]:
    """Markdown rows scoring each of ``ENSEMBLES`` on the folds that all its members finished."""
    lines = [
        "",
        "## Ensembles of configurations",
        "",
        "Mean predicted ln Tc of the members' models, one model per member and fold, on the folds every member ran.",
        "",
        "| ensemble | folds | test MAE ln K | sd over folds | test R2 | members' MAE on the same folds, in order |",
        "|---|---|---|---|---|---|",
    ]
    for name, members in ENSEMBLES.items():
        per_member = [fold_predictions(m) for m in members]
        folds = sorted(set.intersection(*(set(p) for p in per_member)))
        if not folds:
            lines.append(f"| {name} | none | not run | | | |")
            continue
        scores, member_scores = [], []
        for k in folds:
            if any(p[k]["ids"] != per_member[0][k]["ids"] for p in per_member):
                raise ValueError(f"ensemble {name!r} fold {k}: its members were tested on different ids")
            t = np.array(per_member[0][k]["y_true"])
            preds = [np.array(p[k]["y_pred"]) for p in per_member]
            mean = np.mean(preds, axis=0)
            scores.append({"mae": mae(t, mean), "r2": r2(t, mean)})
            member_scores.append([mae(t, p) for p in preds])
        summary = fold_summary(scores)
        members_mae = ", ".join(f"{v:.3f}" for v in np.mean(member_scores, axis=0))
        cells = f"{summary['mae_mean']:.3f} | {summary['mae_sd']:.3f} | {summary['r2_mean']:.3f} | {members_mae}"
        lines.append(f"| {name} | {', '.join(map(str, folds))} | {cells} |")
    return lines


if __name__ == "__main__":
    main()
