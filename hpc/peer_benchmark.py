"""Side-by-side speed of plumetwin's backends, Devito and the machine's memory-bandwidth roofline.

The problem (the same for every solver): 3D advection–diffusion in a constant wind
(3, 1.5, 0) m/s with K = 5 m²/s, dx = dy = dz = 10 m, a Gaussian blob, N³ cells, float32,
a fixed number of steps of the same dt. Each solver's median time per step gives million
cell-updates per second (MLUPS); the roofline is the measured STREAM-triad bandwidth over the
8 bytes a cell costs at least (read once, written once, float32).

Run ``make bench-peers`` (installs the ``peers`` extra) or
``python -m hpc.peer_benchmark --n 256 --steps 100 --rounds 3 --json out.json``; with ``--rounds``
the solvers are timed in turn that many times and the report gives medians.

A third row runs Devito's own update as a Numba kernel (:mod:`hpc.peer_scheme`), timed like
Devito's run and checked against Devito's field: the same scheme on both compilers, which tells
how much of plumetwin's gap to Devito is the compiler and how much the scheme.

Then the same simulated time once more with each solver at its own step (0.8 of its stability
limit: the split sweeps allow larger steps than Devito's unsplit update), each solver's error
against the exact solution (the blob moved by the wind and spread by diffusion), and Devito with
its step halved until it is as accurate as plumetwin: time to solution, and time to accuracy.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

WIND = (3.0, 1.5, 0.0)  # m/s
DIFFUSIVITY = 5.0  # m²/s
SPACING = 10.0  # m
BYTES_PER_CELL = 8  # float32 read once + written once
#: The row of Devito's update compiled with Numba (:mod:`hpc.peer_scheme`).
SAME_SCHEME = "numba-devito-scheme"
#: How far that row may lie from Devito's field (max relative): float32 rounding over 100 steps,
#: Devito's C compiled with -ffast-math (reassociated sums); 3.8e-6 measured at 64³ × 100 steps.
SAME_SCHEME_TOLERANCE = 1e-4


def blob(n: int) -> np.ndarray:
    """The initial Gaussian blob ``(z, y, x)`` (σ = n m, centred), float32."""
    centres = (np.arange(n) + 0.5) * SPACING
    centre = 0.5 * n * SPACING
    g = np.exp(-((centres - centre) ** 2) / (2 * (n * 1.0) ** 2))
    return (g[:, None, None] * g[None, :, None] * g[None, None, :]).astype(np.float32)


def analytic_blob(n: int, t: float) -> np.ndarray:
    """The exact solution at time ``t`` (s) on an unbounded domain, float64 ``(z, y, x)``: the
    blob's centre moves with the wind, each axis's σ² grows by 2Kt and its factor of the peak
    falls as σ₀/σ, so the mass is conserved. (The domain's sides lie 5 σ₀ from the blob's
    centre, where it is 4e-6 of its peak: the boundaries do not show in the errors.)"""
    centres = (np.arange(n) + 0.5) * SPACING
    centre = 0.5 * n * SPACING
    sigma0_sq = (n * 1.0) ** 2
    sigma_sq = sigma0_sq + 2 * DIFFUSIVITY * t
    gz, gy, gx = (math.sqrt(sigma0_sq / sigma_sq) * np.exp(-(centres - centre - velocity * t) ** 2 / (2 * sigma_sq))
                  for velocity in (WIND[2], WIND[1], WIND[0]))
    return gz[:, None, None] * gy[None, :, None] * gx[None, None, :]


def build_model(n: int, backend: str, members: int = 1, limiter: str = "minmod"):
    """plumetwin's model of the peer problem on ``backend`` (one species, ``members`` copies)."""
    from engine import Diffusivity, DispersionModel, Grid, Species, Wind, WindProfile  # noqa: PLC0415

    grid = Grid(n, n, SPACING, SPACING, np.arange(0.0, (n + 1) * SPACING, SPACING), backend=backend)
    speed = math.hypot(WIND[0], WIND[1])
    direction = math.degrees(math.atan2(-WIND[0], -WIND[1])) % 360  # meteorological: where it blows from
    wind = Wind.from_profiles(grid, [WindProfile(speed, direction)] * members)
    diffusivity = Diffusivity.constant(grid, DIFFUSIVITY, DIFFUSIVITY, members)
    model = DispersionModel(grid, wind, diffusivity, [Species("T")], limiter=limiter)
    model.set_state(blob(n)[None, None])
    return model


def stable_dt(cfl: float = 0.4) -> float:
    """The step every solver takes (s): ``dt (|u|/dx + |v|/dy + |w|/dz) = 0.4``. Devito's one-pass
    update (minmod-limited upwind fluxes, forward Euler, unsplit) is monotone only below 0.5;
    plumetwin's split sweeps would allow 1 per direction, so both run inside their limits. The
    time per step does not depend on dt."""
    return cfl / sum(abs(c) / SPACING for c in WIND)


#: Each solver's own step for the time-to-solution comparison is this fraction of its stability
#: limit: plumetwin's default ``time.cfl`` (of Courant 1 per split sweep), Devito's 0.4 of 0.5.
OWN_STEP_FRACTION = 0.8


def plumetwin_own_dt(cfl: float = OWN_STEP_FRACTION) -> float:
    """The step plumetwin's adaptive stepping takes on this problem (s): ``model.stable_dt(cfl)``
    (the Courant rates and diffusion limit do not depend on the grid's size)."""
    return build_model(8, "numpy").stable_dt(cfl)


@dataclass
class Result:
    solver: str
    seconds_per_step: float
    mlups: float
    roofline_fraction: float | None = None
    ratio_to_devito: float | None = None
    agreement: dict = field(default_factory=dict)
    l2_error_vs_exact: float | None = None
    #: Seconds per step of each round, the solvers timed in turn round by round.
    rounds: list[float] = field(default_factory=list)


def measure_bandwidth(size_mb: int = 768, repeats: int = 11) -> tuple[float, str]:
    """STREAM-style triad ``a = b + s c`` bandwidth (GB/s, 3 arrays counted), compiled when Numba
    is present, else NumPy; returns ``(GB/s, method)``. The median of ``repeats`` timings, not
    STREAM's best: on a shared machine the best run overstates what a long run gets."""
    n = size_mb * 2**20 // 4 // 3
    b = np.linspace(0.0, 1.0, n, dtype=np.float32)
    c = np.linspace(2.0, 1.0, n, dtype=np.float32)
    a = np.empty_like(b)
    try:
        import numba  # noqa: PLC0415

        @numba.njit(parallel=True)
        def triad(a, b, c, s):
            for i in numba.prange(a.shape[0]):
                a[i] = b[i] + s * c[i]

        method = f"numba triad, {numba.get_num_threads()} threads"
    except ImportError:
        def triad(a, b, c, s):
            np.multiply(c, s, out=a)
            a += b

        method = "numpy triad"
    triad(a, b, c, np.float32(3.0))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        triad(a, b, c, np.float32(3.0))
        times.append(time.perf_counter() - start)
    return 3 * a.nbytes / float(np.median(times)) / 1e9, method


def measure_device_bandwidth(size_mb: int = 1536, repeats: int = 21) -> float | None:
    """The GPU's triad bandwidth (GB/s, 3 arrays counted) from one fused CuPy kernel timed with
    CUDA events, the median of ``repeats``; None without a working CuPy device."""
    try:
        import cupy  # noqa: PLC0415

        cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - no CuPy or no device: there is no device roofline
        return None
    triad = cupy.ElementwiseKernel("float32 b, float32 c, float32 s", "float32 a", "a = b + s * c",
                                   "plumetwin_triad")
    n = size_mb * 2**20 // 4 // 3
    b = cupy.linspace(0.0, 1.0, n, dtype=cupy.float32)
    c = cupy.linspace(2.0, 1.0, n, dtype=cupy.float32)
    a = cupy.empty_like(b)
    scale = np.float32(3.0)
    triad(b, c, scale, a)
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    times = []
    for _ in range(repeats):
        start.record()
        triad(b, c, scale, a)
        stop.record()
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop) / 1e3)
    return 3 * a.nbytes / float(np.median(times)) / 1e9


def time_plumetwin(n: int, steps: int, backend: str, dt: float, members: int = 1):
    """Seconds per step and the first member's final field (host, ``(z, y, x)``): on the CPU the
    median of the steps timed one by one; on a GPU the whole run over its steps, synchronised once
    at the end, as a run goes (waiting for each step would leave the device idle while Python
    queues the next one)."""
    model = build_model(n, backend, members)
    sync = model.grid.backend.synchronize
    model.step(dt)  # compile / warm up, then restart from the blob
    sync()
    model.set_state(blob(n)[None, None])
    model.time, model.iteration = 0.0, 0
    if model.grid.backend.is_gpu:
        start = time.perf_counter()
        for _ in range(steps):
            model.step(dt)
        sync()
        return (time.perf_counter() - start) / steps, model.grid.backend.to_host(model.state)[0, 0]
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.step(dt)
        sync()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), model.grid.backend.to_host(model.state)[0, 0]


def time_devito(n: int, steps: int, dt: float):
    """Devito's one-pass minmod-limited upwind step with explicit diffusion (C + OpenMP)."""
    os.environ.setdefault("DEVITO_LANGUAGE", "openmp")
    os.environ.setdefault("DEVITO_LOGGING", "ERROR")
    import devito  # noqa: PLC0415
    from devito import Eq, Grid, Operator, TimeFunction, solve  # noqa: PLC0415, F401
    from sympy import Max, Min  # noqa: PLC0415

    # Devito's extent runs from the first grid point to the last: (n - 1) spacings, not n.
    extent = ((n - 1) * SPACING,) * 3
    grid = Grid(shape=(n, n, n), extent=extent, dtype=np.float32)
    x, y, z = grid.dimensions
    c = TimeFunction(name="c", grid=grid, space_order=4, time_order=1)
    c.data[0] = blob(n).transpose(2, 1, 0)  # Devito orders (x, y, z)
    c.data[1] = c.data[0]

    def minmod(a, b):
        return Max(0, Min(a, b)) + Min(0, Max(a, b))

    def flux(u, dim, h):
        """Minmod-limited upwind flux through the face above cell i (u > 0). Without
        plumetwin's Lax–Wendroff factor (1 - Courant): unsplit, that update is unstable."""
        ci, cm, cp = c, c.subs(dim, dim - h), c.subs(dim, dim + h)
        return u * (ci + 0.5 * minmod(ci - cm, cp - ci))

    terms = 0
    for u, dim in zip(WIND, (x, y, z)):
        if u > 0:
            h = dim.spacing
            face_high = flux(u, dim, h)
            face_low = face_high.subs(dim, dim - h)
            terms += (face_high - face_low) / SPACING
    # Second-order Laplacian, as plumetwin's (the default order-4 one is unstable at this dt).
    laplacian = c.dx2(fd_order=2) + c.dy2(fd_order=2) + c.dz2(fd_order=2)
    update = Eq(c.forward, c - dt * terms + dt * DIFFUSIVITY * laplacian)
    op = Operator([update], opt="advanced")
    op.apply(time_m=0, time_M=0, dt=dt)  # JIT-compile
    c.data[0] = blob(n).transpose(2, 1, 0)
    start = time.perf_counter()
    op.apply(time_m=0, time_M=steps - 1, dt=dt)
    elapsed = time.perf_counter() - start
    final = np.asarray(c.data[steps % 2]).transpose(2, 1, 0)
    return elapsed / steps, final, devito.__version__


def time_to_solution(n: int, steps: int, dt: float, results: list[Result], fields: dict[str, np.ndarray],
                     exact: np.ndarray) -> dict:
    """Wall time to the same simulated time ``steps · dt`` with each solver at its own step.

    The per-step comparison gives every solver Devito's step, 0.8 of the unsplit update's
    limit; plumetwin's split sweeps are stable up to Courant 1 per direction, so at its own
    default (0.8 of that) it reaches the same time in fewer steps. Each solver's relative L2
    error against ``exact`` (:func:`analytic_blob` at that time) says what accuracy the time buys. plumetwin
    backends are re-run at their own step; Devito's row is its timed run (already at its own step).
    """
    end_time = steps * dt
    own_steps = max(1, math.ceil(end_time / plumetwin_own_dt() - 1e-9))
    rows = []
    for result in results:
        if result.solver.startswith("plumetwin"):
            backend = result.solver.split("-")[1]
            seconds, final = time_plumetwin(n, own_steps, backend, end_time / own_steps)
            rows.append({"solver": result.solver, "dt_s": end_time / own_steps, "steps": own_steps,
                         "seconds_per_step": seconds, "seconds": own_steps * seconds,
                         "l2_error_vs_exact": relative_difference(exact, final)[1]})
        else:
            rows.append({"solver": result.solver, "dt_s": dt, "steps": steps,
                         "seconds_per_step": result.seconds_per_step, "seconds": steps * result.seconds_per_step,
                         "l2_error_vs_exact": relative_difference(exact, fields["devito"])[1]})
    devito = next((row["seconds"] for row in rows if row["solver"] == "devito-minmod"), None)
    for row in rows:
        row["ratio_to_devito"] = devito / row["seconds"] if devito else None
    refined = []
    if devito:
        # Devito's forward-Euler update is first order in time: how much smaller must its step
        # be to be as accurate as plumetwin at plumetwin's own step?
        target = min(row["l2_error_vs_exact"] for row in rows if row["solver"].startswith("plumetwin"))
        refined = devito_to_accuracy(n, end_time, steps, target, exact)
    return {"end_time_s": end_time, "own_step_fraction_of_limit": OWN_STEP_FRACTION,
            "exact": "Gaussian blob moved by the wind, each σ² grown by 2 K t (unbounded domain)",
            "solvers": rows, "devito_smaller_steps": refined}


def devito_to_accuracy(n: int, end_time: float, steps: int, target: float, exact: np.ndarray,
                       max_halvings: int = 4) -> list[dict]:
    """Devito's run to ``end_time`` with its step halved, up to ``max_halvings`` times, until its
    relative L2 error against ``exact`` (the exact solution then) is at most ``target``; a row per run."""
    rows = []
    for halvings in range(1, max_halvings + 1):
        count = steps * 2**halvings
        seconds, final, _ = time_devito(n, count, end_time / count)
        error = relative_difference(exact, final)[1]
        rows.append({"solver": f"devito-minmod dt/{2**halvings}", "dt_s": end_time / count, "steps": count,
                     "seconds_per_step": seconds, "seconds": count * seconds, "l2_error_vs_exact": error})
        if error <= target:
            break
    return rows


def _field_name(solver: str) -> str:
    """The key of a result row's final field: the backend for plumetwin's rows."""
    if solver.startswith("plumetwin-"):
        return solver.split("-")[1]
    return "devito" if solver.startswith("devito") else solver


def relative_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """``(max |a-b| / max |a|, ||a-b||₂ / ||a||₂)`` in float64."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return (float(np.abs(a64 - b64).max() / np.abs(a64).max()),
            float(np.linalg.norm(a64 - b64) / np.linalg.norm(a64)))


def available_backends() -> list[str]:
    from engine.backend import resolve_backend  # noqa: PLC0415
    from engine.errors import BackendUnavailableError  # noqa: PLC0415

    names = []
    for name in ("numpy", "numba", "cupy"):
        try:
            resolve_backend(name)
            names.append(name)
        except BackendUnavailableError as error:
            print(f"  {name}: skipped ({error})", file=sys.stderr)
    return names


def time_solvers(n: int, steps: int, dt: float, skip_devito: bool, rounds: int
                 ) -> tuple[list[Result], dict[str, np.ndarray], str | None]:
    """Every solver's seconds per step, the solvers timed in turn ``rounds`` times (on a shared
    machine the speed drifts by 5–10 % between minutes; in turn, each round's ratios compare like
    with like): the results (median seconds per step), the final fields and Devito's version."""
    timers = {f"plumetwin-{backend}": (backend, lambda backend=backend: time_plumetwin(n, steps, backend, dt))
              for backend in available_backends()}
    versions: dict[str, str] = {}
    if not skip_devito:
        # Found, not imported: time_devito sets Devito's environment before its first import.
        if importlib.util.find_spec("devito") is not None:
            def devito_run():
                seconds, final, versions["devito"] = time_devito(n, steps, dt)
                return seconds, final

            timers["devito-minmod"] = ("devito", devito_run)
        else:
            print("  devito: skipped (pip install 'plumetwin[peers]')", file=sys.stderr)
    if "plumetwin-numba" in timers:
        from hpc.peer_scheme import time_unsplit  # noqa: PLC0415 - needs Numba

        timers[SAME_SCHEME] = (SAME_SCHEME, lambda: time_unsplit(blob(n), steps, WIND, DIFFUSIVITY, SPACING, dt))
    times: dict[str, list[float]] = {solver: [] for solver in timers}
    fields: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for solver, (name, timer) in timers.items():
            seconds, fields[name] = timer()
            times[solver].append(seconds)
    results = []
    for solver, seconds in times.items():
        median = float(np.median(seconds))
        results.append(Result(solver, median, n**3 / median / 1e6, rounds=seconds))
    return results, fields, versions.get("devito")


def paired_ratio(result: Result, reference: Result) -> float:
    """``result``'s speed over ``reference``'s: the median of the rounds' ratios (each round
    timed both in turn), or of their medians when the rounds do not pair up."""
    if result.rounds and len(result.rounds) == len(reference.rounds):
        return float(np.median([theirs / ours for ours, theirs in zip(result.rounds, reference.rounds)]))
    return reference.seconds_per_step / result.seconds_per_step


def run(n: int, steps: int, skip_devito: bool = False, bandwidth_mb: int = 512, rounds: int = 1) -> dict:
    """Time every solver on the peer problem and return the report (also printed as a table)."""
    dt = stable_dt()
    before, method = measure_bandwidth(bandwidth_mb)
    cells = n**3
    print(f"problem: {n}³ float32, {steps} steps of dt = {dt:.4g} s; wind {WIND} m/s, K = {DIFFUSIVITY} m²/s"
          + (f"; {rounds} rounds of the solvers in turn, medians" if rounds > 1 else ""))
    results, fields, devito_version = time_solvers(n, steps, dt, skip_devito, rounds)
    exact = analytic_blob(n, steps * dt)
    to_solution = time_to_solution(n, steps, dt, [r for r in results if r.solver != SAME_SCHEME], fields, exact)
    batching = None
    if "numba" in fields and n % 2 == 0:
        # The same number of cells as 8 members of half the size: batching must cost nothing per cell.
        seconds, _ = time_plumetwin(n // 2, steps, "numba", dt, members=8)
        single = next(r for r in results if r.solver == "plumetwin-numba")
        batching = {"members": 8, "n": n // 2, "seconds_per_step": seconds, "mlups": cells / seconds / 1e6,
                    "cost_per_cell_vs_single_field": seconds / single.seconds_per_step}
    device = None
    if "cupy" in fields:
        # Issue 3's GPU figure: 8 members of the full size against the device's own roofline.
        device_bandwidth = measure_device_bandwidth()
        seconds, _ = time_plumetwin(n, steps, "cupy", dt, members=8)
        single = next(r for r in results if r.solver == "plumetwin-cupy")
        device = {"bandwidth_GB_s": device_bandwidth,
                  "roofline_mlups": device_bandwidth * 1e9 / BYTES_PER_CELL / 1e6 if device_bandwidth else None,
                  "members_8": {"n": n, "seconds_per_step": seconds, "mlups": 8 * cells / seconds / 1e6,
                                "cost_per_cell_vs_single_field": seconds / (8 * single.seconds_per_step)}}
    # Bandwidth before and after the solvers: on a shared machine it drifts; the mean sets the roofline.
    after, _ = measure_bandwidth(bandwidth_mb)
    bandwidth = 0.5 * (before + after)
    roofline = bandwidth * 1e9 / BYTES_PER_CELL / 1e6
    print(f"memory bandwidth ({method}): {before:.1f} GB/s before, {after:.1f} after → roofline "
          f"{roofline:,.0f} MLUPS at {BYTES_PER_CELL} B/cell")
    devito = next((r for r in results if r.solver == "devito-minmod"), None)
    reference = fields["numpy"]
    for result in results:
        if result.solver != "plumetwin-cupy":
            result.roofline_fraction = result.mlups / roofline
        elif device and device["roofline_mlups"]:
            result.roofline_fraction = result.mlups / device["roofline_mlups"]
        if devito:
            result.ratio_to_devito = paired_ratio(result, devito)
        name = _field_name(result.solver)
        max_rel, l2_rel = relative_difference(reference, fields[name])
        result.agreement = {"max_relative_to_numpy": max_rel, "l2_relative_to_numpy": l2_rel}
        if name == SAME_SCHEME and "devito" in fields:
            result.agreement["max_relative_to_devito"] = relative_difference(fields["devito"], fields[name])[0]
        result.l2_error_vs_exact = relative_difference(exact, fields[name])[1]
    header = (f"{'solver':<21}{'ms/step':>10}{'MLUPS':>10}{'roofline':>10}{'×devito':>9}{'max rel diff':>14}"
              f"{'L2 rel diff':>13}{'L2 vs exact':>13}")
    print(header)
    for r in results:
        roof = f"{100 * r.roofline_fraction:.0f} %" if r.roofline_fraction is not None else "-"
        ratio = f"{r.ratio_to_devito:.2f}" if r.ratio_to_devito is not None else "-"
        print(f"{r.solver:<21}{1e3 * r.seconds_per_step:>10.2f}{r.mlups:>10.0f}{roof:>10}{ratio:>9}"
              f"{r.agreement['max_relative_to_numpy']:>14.2e}{r.agreement['l2_relative_to_numpy']:>13.2e}"
              f"{r.l2_error_vs_exact:>13.2e}")
    same = next((r for r in results if r.solver == SAME_SCHEME), None)
    if same:
        versus = (f", {same.ratio_to_devito:.2f}× Devito's speed, max {same.agreement['max_relative_to_devito']:.1e} "
                  "from Devito's field" if same.ratio_to_devito else "")
        print(f"{SAME_SCHEME}: Devito's update as a Numba kernel, the same scheme on plumetwin's compiler{versus}")
    print(f"time to t = {to_solution['end_time_s']:.4g} s, each solver at its own step "
          f"({OWN_STEP_FRACTION:g} of its stability limit):")
    print(f"{'solver':<20}{'dt [s]':>10}{'steps':>7}{'seconds':>10}{'×devito':>9}{'L2 vs exact':>13}")
    for row in to_solution["solvers"]:
        ratio = f"{row['ratio_to_devito']:.2f}" if row["ratio_to_devito"] is not None else "-"
        print(f"{row['solver']:<20}{row['dt_s']:>10.3f}{row['steps']:>7}{row['seconds']:>10.3f}{ratio:>9}"
              f"{row['l2_error_vs_exact']:>13.2e}")
    for row in to_solution["devito_smaller_steps"]:
        print(f"{row['solver']:<20}{row['dt_s']:>10.3f}{row['steps']:>7}{row['seconds']:>10.3f}{'':>9}"
              f"{row['l2_error_vs_exact']:>13.2e}")
    if batching:
        print(f"Numba, 8 members of {n // 2}³ (the same cells): {1e3 * batching['seconds_per_step']:.2f} ms/step, "
              f"{batching['mlups']:.0f} MLUPS, {batching['cost_per_cell_vs_single_field']:.2f}× the single field's "
              "cost per cell")
    if device:
        eight = device["members_8"]
        share = (f", {100 * eight['mlups'] / device['roofline_mlups']:.0f} % of the device roofline "
                 f"({device['bandwidth_GB_s']:.0f} GB/s triad)" if device["roofline_mlups"] else "")
        print(f"CuPy, 8 members of {n}³: {1e3 * eight['seconds_per_step']:.2f} ms/step, {eight['mlups']:.0f} MLUPS"
              f"{share}; {eight['cost_per_cell_vs_single_field']:.2f}× the single field's cost per cell")
    return {
        "problem": {"n": n, "steps": steps, "rounds": rounds, "dt_s": dt, "dtype": "float32", "wind_m_s": WIND,
                    "diffusivity_m2_s": DIFFUSIVITY, "spacing_m": SPACING,
                    "plumetwin_scheme": "split Lax-Wendroff, minmod limiter; explicit vertical diffusion (auto)",
                    "devito_scheme": "unsplit minmod-limited upwind fluxes, forward Euler; explicit diffusion",
                    SAME_SCHEME: "Devito's scheme as one Numba kernel (hpc.peer_scheme)"},
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "bandwidth_GB_s": bandwidth,
                    "bandwidth_before_after_GB_s": [before, after], "bandwidth_method": method,
                    "roofline_mlups": roofline},
        "devito_version": devito_version,
        "numba_member_batching": batching,
        "time_to_solution": to_solution,
        "device": device,
        "results": [asdict(r) for r in results],
    }


def check_agreement(report: dict, parity: float = 1e-6, peer: float = 0.05) -> list[str]:
    """Problems with the agreement: plumetwin backends must equal NumPy to ``parity`` (max
    relative), Devito's different (unsplit) scheme must stay within ``peer`` (relative L2), and
    Devito's scheme compiled with Numba within :data:`SAME_SCHEME_TOLERANCE` of Devito's field."""
    problems = []
    for r in report["results"]:
        agreement = r["agreement"]
        # "not <=" so that a NaN counts as a disagreement.
        if r["solver"].startswith("plumetwin") and not agreement["max_relative_to_numpy"] <= parity:
            problems.append(f"{r['solver']} differs from NumPy by {agreement['max_relative_to_numpy']:.2e} (max rel)")
        if ((r["solver"].startswith("devito") or r["solver"] == SAME_SCHEME)
                and not agreement["l2_relative_to_numpy"] <= peer):
            problems.append(f"{r['solver']} differs from plumetwin by {agreement['l2_relative_to_numpy']:.2e} (L2 rel)")
        if r["solver"] == SAME_SCHEME and not agreement.get("max_relative_to_devito", 0.0) <= SAME_SCHEME_TOLERANCE:
            problems.append(f"{r['solver']} differs from Devito's field by {agreement['max_relative_to_devito']:.2e} "
                            "(max rel), the same scheme")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="cells per side (default 256)")
    parser.add_argument("--steps", type=int, default=100, help="time steps (default 100)")
    parser.add_argument("--json", help="write the report here (atomically)")
    parser.add_argument("--skip-devito", action="store_true", help="plumetwin backends only")
    parser.add_argument("--rounds", type=int, default=1,
                        help="time the solvers in turn this many times; medians and paired ratios (default 1)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    report = run(args.n, args.steps, args.skip_devito, rounds=args.rounds)
    problems = check_agreement(report)
    for problem in problems:
        print(f"DISAGREEMENT: {problem}", file=sys.stderr)
    if args.json:
        from engine.atomic import atomic_write_text  # noqa: PLC0415

        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(f"report: {args.json}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
