"""Ensemble throughput: member-steps per second of 64 members advanced together on 128 × 128 × 32.

Run with ``make bench-ensemble`` (writes ``benchmarks/results/ensemble_<label>.json``); the normal
test run skips benchmarks. One member-step is one member advanced by one time step (sources,
advection, diffusion, deposition); cell-updates count members × species × cells per step.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scenarios.ensemble import build_ensemble_model, bytes_per_member, chunk_size
from scenarios.perturbations import sample_members

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_ensemble_scale import SPEC, scale_run  # noqa: E402

from stepping import time_steps  # noqa: E402

MEMBERS = 64


def test_ensemble_member_steps_per_second(benchmark, backend):
    run = scale_run(backend)
    members = sample_members(SPEC, MEMBERS, "lhs", seed=0)
    model, _ = build_ensemble_model(run, members)
    budget_chunk = chunk_size(model.grid, 1, MEMBERS)
    if budget_chunk < MEMBERS:
        pytest.skip(f"{MEMBERS} members do not fit the memory budget here ({budget_chunk} per chunk)")
    seconds = time_steps(benchmark, model, rounds=5)
    benchmark.extra_info.update({
        "backend": backend, "grid": "128x128x32", "cells": model.grid.size, "members": MEMBERS, "species": 1,
        "dtype": model.grid.dtype, "member_steps_per_s": MEMBERS / seconds,
        "mlups": model.cell_updates_per_step / seconds / 1e6,
        "bytes_per_member_estimate": bytes_per_member(model.grid, 1),
    })
