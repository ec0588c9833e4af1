"""Time of each fused CUDA transport kernel per step, and the memory bandwidth it reaches.

The peer problem of :mod:`hpc.peer_benchmark` (constant wind (3, 1.5, 0) m/s, K = 5 m²/s,
dx = 10 m, a Gaussian blob, float32) with ``members`` copies, stepped on the CuPy backend. Every
kernel launch is bracketed by CUDA events (no synchronisation until the end), so each kernel's
median time per step is measured alone. A kernel's *traffic* is what it must move at least: each
state-sized array it reads or writes once (4 bytes per cell each in float32); its bandwidth is
traffic over time, set against the device's STREAM-triad bandwidth. The step's figure is the
issue's: million cell-updates per second against the roofline of 8 bytes per cell.

``python -m hpc.cuda_profile --n 256 --members 8 --json cuda_profile.json`` on a GPU server
profiles the one-kernel (tiled) step and the column kernels in turn; ``--host`` runs the same
kernels built for the CPU (tiny sizes only: a check of this script).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections import defaultdict

import numpy as np

from .peer_benchmark import BYTES_PER_CELL, build_model, measure_device_bandwidth, stable_dt

#: State-sized arrays each kernel reads or writes once per launch (float32: 4 bytes per cell each):
#: the one-pass step and the sweeps read the field and write the result (their correction terms
#: are off here: the wind is uniform); diffuse likewise; the implicit solve reads the field twice
#: and writes twice, reads its forward result back once.
STATE_PASSES = {"tiled_step_even": 2, "tiled_step_odd": 2, "tiled_step_z_even": 2, "tiled_step_z_odd": 2,
                "sweep_xy": 2, "sweep_yx": 2, "sweep_z": 2, "diffuse": 2, "vertical_implicit": 5}


class TimedKernels:
    """A kernel set whose launches are timed: CUDA events on the device, the host clock for
    host-built kernels. :meth:`seconds` returns each kernel's launch times (s)."""

    def __init__(self, inner, xp):
        self.inner = inner
        self._device = xp.__name__ == "cupy"
        self._xp = xp
        self._marks: dict[str, list] = defaultdict(list)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def launch(self, name, grid, args):
        if self._device:
            start, stop = self._xp.cuda.Event(), self._xp.cuda.Event()
            start.record()
            self.inner.launch(name, grid, args)
            stop.record()
            self._marks[name].append((start, stop))
        else:
            start = time.perf_counter()
            self.inner.launch(name, grid, args)
            self._marks[name].append(time.perf_counter() - start)

    def seconds(self) -> dict[str, list[float]]:
        if not self._device:
            return {name: list(marks) for name, marks in self._marks.items()}
        self._xp.cuda.get_current_stream().synchronize()
        return {name: [self._xp.cuda.get_elapsed_time(a, b) / 1e3 for a, b in marks]
                for name, marks in self._marks.items()}


def profile(n: int, members: int, steps: int, host: bool = False, tiled: bool = True) -> dict:
    """Step the peer problem ``steps`` times with timed kernels; the report as a dict.
    ``tiled``: the one-kernel schedule (default), else the column kernels (sweeps, then diffuse)."""
    if host:
        from engine.kernels.cuda_fused import use_host_kernels  # noqa: PLC0415

        model = build_model(n, "numpy", members)
        use_host_kernels(model.transport)
    else:
        import cupy  # noqa: PLC0415 - a GPU run

        gc.collect()  # an earlier run's arrays back to the pool, and the pool's blocks to the device
        cupy.get_default_memory_pool().free_all_blocks()
        model = build_model(n, "cupy", members)
    xp = model.grid.xp
    kernels = model.transport._fused.kernels = TimedKernels(model.transport._fused.kernels, xp)
    model.transport._fused.tiled = tiled
    dt = stable_dt()
    model.step(dt)  # compile and warm up
    model.step(dt)
    model.grid.backend.synchronize()
    kernels._marks.clear()
    start = time.perf_counter()
    for _ in range(steps):
        model.step(dt)
    model.grid.backend.synchronize()
    step_seconds = (time.perf_counter() - start) / steps
    cells = members * n**3
    # Device memory the run holds (CuPy's pool: every array of the model and the kernels' buffers),
    # in state sizes per member: what an ensemble chunk of this grid needs per member.
    held = None if host else int(xp.get_default_memory_pool().total_bytes())
    bandwidth = None if host else measure_device_bandwidth()
    rows = []
    for name, times in sorted(kernels.seconds().items()):
        median = float(np.median(times))
        traffic = STATE_PASSES[name] * 4 * cells
        row = {"kernel": name, "launches": len(times), "median_ms": 1e3 * median,
               "traffic_bytes": traffic, "GB_s": traffic / median / 1e9}
        if bandwidth:
            row["fraction_of_triad"] = row["GB_s"] / bandwidth
        rows.append(row)
    report = {"problem": {"n": n, "members": members, "steps": steps, "dtype": "float32",
                          "kernels": "host build (a check of the script)" if host else "CuPy",
                          "schedule": "tiled" if tiled else "columns"},
              "device_triad_GB_s": bandwidth,
              "step": {"seconds": step_seconds, "mlups": cells / step_seconds / 1e6},
              "device_memory": None if held is None else {
                  "pool_bytes": held, "state_sizes_per_member": held / (4 * cells)},
              "kernels": rows}
    if bandwidth:
        report["step"]["fraction_of_roofline"] = report["step"]["mlups"] / (bandwidth * 1e3 / BYTES_PER_CELL)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="cells per side (default 256)")
    parser.add_argument("--members", type=int, default=8, help="ensemble members (default 8)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (default 20)")
    parser.add_argument("--host", action="store_true", help="run the kernels built for the CPU (a check)")
    parser.add_argument("--schedule", choices=("tiled", "columns", "both"), default="both",
                        help="the one-kernel step, the column kernels, or both in turn (default)")
    parser.add_argument("--json", help="write the report(s) to this file")
    args = parser.parse_args(argv)
    schedules = ("tiled", "columns") if args.schedule == "both" else (args.schedule,)
    reports = []
    for schedule in schedules:
        try:
            report = profile(args.n, args.members, args.steps, host=args.host, tiled=schedule == "tiled")
        except Exception as exc:  # noqa: BLE001 - one line for the operator, not a traceback
            print(f"cuda_profile: {exc.__class__.__name__}: {exc}", file=sys.stderr)
            return 1
        reports.append(report)
        step = report["step"]
        share = (f", {100 * step['fraction_of_roofline']:.0f} % of the roofline "
                 f"({report['device_triad_GB_s']:.0f} GB/s triad)" if "fraction_of_roofline" in step else "")
        print(f"{schedule}: {args.members} members of {args.n}³: {1e3 * step['seconds']:.3f} ms/step, "
              f"{step['mlups']:,.0f} MLUPS{share}")
        print(f"{'kernel':<20}{'launches':>9}{'ms':>10}{'GB/s':>10}{'of triad':>10}")
        for row in report["kernels"]:
            share = f"{100 * row['fraction_of_triad']:.0f} %" if "fraction_of_triad" in row else "-"
            print(f"{row['kernel']:<20}{row['launches']:>9}{row['median_ms']:>10.3f}{row['GB_s']:>10.1f}{share:>10}")
    if args.json:
        from engine.atomic import atomic_write_text  # noqa: PLC0415

        atomic_write_text(args.json, json.dumps(reports, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
