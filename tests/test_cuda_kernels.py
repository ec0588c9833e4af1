"""The CUDA transport kernels, verified without a GPU: built for the host CPU
(:class:`engine.kernels.cuda_kernels.HostKernels`, every thread run in turn — the column kernels
share nothing between threads and the tiled ones run phase by phase between their barriers, so
that is the device's computation) and put in the place of the
reference operators of a NumPy-backend model. With no fused multiply-add on either side they must
give the reference's floats exactly, over every branch of the scheme and both sweep orders; on a
GPU the ``cupy`` case of the backend-parametrised suites runs the same kernels through CuPy."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from cuda_host import use_host_kernels
from test_backend_parity import CASES, TOLERANCE, build, deformation_model

from engine import Diffusivity
from engine.kernels.cuda_fused import CudaFusedSweeps, CudaVerticalSolve
from engine.kernels.cuda_kernels import (CupyKernels, HostKernels, KernelSet, compile_definitions, host_compiler,
                                         kernel_source)
from engine.transport import LIMITERS
from engine.transport.advection import LIMITER_CODES
from hpc.cuda_profile import main as profile_main

pytestmark = pytest.mark.skipif(host_compiler() is None,
                                reason="no C++ compiler to build the CUDA kernels for the host")


def with_host_kernels(model):
    """``model`` (NumPy backend) with its sweeps and diffusion run by the CUDA kernels on the host."""
    use_host_kernels(model.transport)
    return model


def assert_identical_runs(reference, candidate, dt: float, steps: int) -> None:
    """States equal to the bit after every step; budgets to the backend suite's tolerance: the
    reference takes each boundary's net flux as a float32 difference before summing in float64,
    the kernels (like the Numba ones) subtract in float64."""
    for _ in range(steps):
        reference.step(dt)
        candidate.step(dt)
        assert np.array_equal(candidate.state, reference.state)
    tolerance = 10 * TOLERANCE[np.dtype(reference.state.dtype).name]
    budget_ref, budget_got = reference.budget(), candidate.budget()
    for term in budget_ref:
        scale = max(np.abs(budget_ref[term]).max(), 1e-30)
        assert np.abs(budget_got[term] - budget_ref[term]).max() <= tolerance * scale, term


@pytest.mark.parametrize("dtype,limiter,building,closed,vertical_wind,vertical", CASES)
def test_cuda_kernels_equal_the_reference_to_the_bit(dtype, limiter, building, closed, vertical_wind, vertical):
    reference = build("numpy", dtype, limiter, building, closed, vertical_wind, vertical)
    candidate = with_host_kernels(build("numpy", dtype, limiter, building, closed, vertical_wind, vertical))
    dt = 0.9 * reference.stable_dt()
    assert_identical_runs(reference, candidate, dt, 12)  # both sweep orders; sources, decay, deposition


@pytest.mark.parametrize("limiter", LIMITERS)
def test_cuda_kernels_with_the_divergence_correction_and_a_wind_changing_sign(limiter):
    """u = a(x - x0) changes sign mid-domain, w = -a z: every sweep carries its correction term,
    and the flux's downwind half (from the right cell's slope, negated) is exercised."""
    reference = deformation_model("numpy", "float32", limiter)
    candidate = with_host_kernels(deformation_model("numpy", "float32", limiter))
    assert reference.transport._correct_divergence
    assert_identical_runs(reference, candidate, 0.9 * reference.stable_dt(), 8)


@pytest.mark.parametrize("building,vertical", [(True, "implicit"), (False, "auto")])
def test_cuda_kernels_with_subcycled_horizontal_diffusion(building, vertical):
    reference, candidate = (build("numpy", "float32", "mc", building, False, True, vertical) for _ in range(2))
    with_host_kernels(candidate)
    for model in (reference, candidate):  # a convective-afternoon Kh on 20 m cells
        model.set_meteorology(model.wind, Diffusivity.constant(model.grid, 150.0, 2.0, 3))
    dt = 0.9 * reference.stable_dt()
    assert reference.transport.diffusion_substeps(dt) >= 4
    assert isinstance(candidate.transport._fused, CudaFusedSweeps)
    assert_identical_runs(reference, candidate, dt, 6)


def test_every_limiter_has_a_kernel_code():
    assert set(LIMITER_CODES) == set(LIMITERS)


def test_a_wrong_argument_is_an_error_naming_the_kernel_and_the_parameter():
    kernels = HostKernels(np.float32, 1)
    field = np.zeros((1, 2, 3, 4), np.float32)
    with pytest.raises(TypeError, match="kernel diffuse takes 22 arguments, 2 given"):
        kernels.launch("diffuse", (1, 3, 1), (field, field))
    arguments = [field, field.astype(np.float64)] + [0] * 20
    with pytest.raises(TypeError, match="kernel diffuse, parameter dst: needs a C-contiguous float32 array"):
        kernels.launch("diffuse", (1, 3, 1), tuple(arguments))
    with pytest.raises(KeyError, match="no CUDA kernel 'sweep_w'"):
        kernels.launch("sweep_w", (1, 1, 1), ())
    arguments = [field, field, 1, 2 ** 40] + [0] * 18
    with pytest.raises(OverflowError, match="parameter nz"):
        kernels.launch("diffuse", (1, 3, 1), tuple(arguments))


def test_precision_and_limiter_reach_the_compiler_exactly():
    assert compile_definitions(np.float32, 4) == ("-DREAL=float", "-DLIMITER=4", "-DREAL_TINY=0x1.0000000000000p-126")
    assert float.fromhex(compile_definitions(np.float64, 0)[2].split("=")[1]) == np.finfo(np.float64).tiny
    with pytest.raises(ValueError, match="float32 or float64"):
        compile_definitions(np.float16, 1)


def test_every_kernel_has_its_signature_parsed():
    signatures = KernelSet(np.float32, 1).signatures
    assert set(signatures) == {"sweep_xy", "sweep_yx", "sweep_z", "diffuse", "vertical_implicit",
                               "tiled_step_even", "tiled_step_odd", "tiled_step_z_even", "tiled_step_z_odd"}
    tiled = [[(p.name, p.c_type) for p in signatures[name]] for name in
             ("tiled_step_even", "tiled_step_odd", "tiled_step_z_even", "tiled_step_z_odd")]
    assert all(parameters == tiled[0] for parameters in tiled) and len(tiled[0]) == 43  # from one macro
    assert tiled[0][0] == ("src", "const real *") and tiled[0][-1] == ("outflow", "double *")
    assert [p.name for p in signatures["sweep_xy"]] == [p.name for p in signatures["sweep_yx"]]
    assert signatures["diffuse"][-4].base == "unsigned char" and signatures["diffuse"][-4].pointer


def test_cuda_source_compiles_for_hopper_and_ampere_without_register_spills():
    """NVRTC (CuPy's compiler library; no GPU needed) builds every precision × limiter variant for
    sm_80 and sm_90 and ptxas reports no spilled registers (a spill would put the kernels' column
    windows in local memory)."""
    nvrtc = pytest.importorskip("cupy_backends.cuda.libs.nvrtc", reason="needs CuPy's NVRTC bindings")
    source = kernel_source()
    for arch in ("sm_80", "sm_90"):
        for dtype in (np.float32, np.float64):
            for code in LIMITER_CODES.values():
                program = nvrtc.createProgram(source, "transport.cu", [], [])
                # CuPy adds -ftz=true to every build (float32 subnormals flushed, as on the CPU).
                options = [*CupyKernels.OPTIONS, "-ftz=true", f"-arch={arch}", "-Xptxas=-v",
                           *compile_definitions(dtype, code)]
                try:
                    nvrtc.compileProgram(program, options)
                except Exception as exc:  # the log says why
                    pytest.fail(f"{arch} {np.dtype(dtype)} limiter {code}: {exc}\n{nvrtc.getProgramLog(program)}")
                log = nvrtc.getProgramLog(program)
                assert log.count("Compiling entry function") == 9
                assert log.count("bytes spill stores") == 9
                spills = [line for line in log.splitlines() if "spill stores" in line and " 0 bytes spill" not in line]
                assert not spills, f"{arch} {np.dtype(dtype)} limiter {code}: {spills}"


@pytest.mark.parametrize("vertical", [False, True])
def test_the_last_kernel_flushes_subnormals_only_when_asked(vertical):
    """Subnormal concentrations become 0 in the diffusion kernel's output with ``flush`` (the
    step's end-of-step flush, done there on the GPU); normal ones, however small, are kept."""
    nz, ny, nx = 3, 4, 5
    zeros = np.zeros((1, nz, ny, nx + 1), np.float32)
    fused = CudaFusedSweeps(zeros, np.zeros((1, nz, ny + 1, nx), np.float32), np.zeros((1, nz + 1, ny, nx), np.float32),
                            None, False, np.zeros((1, nz)), 10.0, 10.0, np.full(nz, 5.0), np.zeros(1), "minmod", xp=np,
                            kernels=HostKernels)
    tiny = np.finfo(np.float32).tiny
    field = np.full((1, 1, nz, ny, nx), tiny, np.float32)
    field[..., ::2] = tiny / 4  # subnormal
    coefficients = (np.zeros((1, nz - 1, 1, 1), np.float32), None) if vertical else None
    kept, _ = fused.apply(field, 1.0, 0, vertical=coefficients)
    assert np.array_equal(kept, field)  # zero wind, Kh = Kz = 0: the step is the identity
    flushed, _ = fused.apply(field, 1.0, 1, vertical=coefficients, flush=True)
    assert np.array_equal(flushed, np.where(field < tiny, 0, field))


def random_sweeps(xp, kernels, rng_seed: int = 7, sweep_z: bool = True):
    """Fused sweeps over a random full wind of both signs, with correction terms, solids' face
    masks, horizontal diffusion and the inputs of the explicit and implicit vertical steps."""
    rng = np.random.default_rng(rng_seed)
    members, nz, ny, nx = 2, 6, 9, 11
    wind = [rng.uniform(-2.0, 2.0, shape).astype(np.float32) for shape in
            ((members, nz, ny, nx + 1), (members, nz, ny + 1, nx), (members, nz + 1, ny, nx))]
    divergences = [{axis: rng.uniform(-1e-3, 1e-3, (members, nz, ny, nx)).astype(np.float32) for axis in "xyz"}
                   for _ in range(2)]
    masks = [(rng.uniform(size=shape) > 0.2).astype(np.float32) for shape in ((nz, ny, nx - 1), (nz, ny - 1, nx))]
    kh = rng.uniform(1.0, 3.0, (members, nz))
    dz = rng.uniform(4.0, 9.0, nz)
    fused = CudaFusedSweeps(*wind, divergences, sweep_z, kh, 20.0, 25.0, dz, np.array([0.1, 0.0]), "mc", *masks,
                            xp=xp, kernels=kernels)
    return fused, rng


def random_state(rng):
    """A field for :func:`random_sweeps` and the explicit vertical step's conductance and
    deposition: ``(field, conductance, deposition)``."""
    field = rng.uniform(0.5, 1.5, (2, 2, 6, 9, 11)).astype(np.float32)
    conductance = rng.uniform(0.1, 0.5, (2, 5, 1, 1)).astype(np.float32)
    deposition = rng.uniform(0.0, 1e-3, (2, 6, 9, 11)).astype(np.float32)
    return field, conductance, deposition


def test_cupy_kernels_equal_host_kernels_to_the_bit():
    """On a GPU: the CuPy build of every kernel gives the host build's floats exactly (no FMA
    contraction, IEEE division on both), both sweep orders, with and without the z sweep, tiled
    and column schedules, the explicit and the implicit vertical step."""
    cupy = pytest.importorskip("cupy", reason="needs CuPy")
    from engine.backend import BackendUnavailableError, resolve_backend

    try:
        resolve_backend("cupy")
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))
    for sweep_z, tiled in itertools.product((True, False), (True, False)):
        host, rng = random_sweeps(np, HostKernels, sweep_z=sweep_z)
        device, _ = random_sweeps(cupy, CupyKernels, sweep_z=sweep_z)
        host.tiled = device.tiled = tiled
        field, conductance, deposition = random_state(rng)
        for parity in (0, 1):
            for vertical in (None, (conductance, deposition)):
                expected, outflow = host.apply(field, 0.7, parity, vertical=vertical)
                got, outflow_device = device.apply(cupy.asarray(field), 0.7, parity, vertical=vertical)
                assert np.array_equal(cupy.asnumpy(got), expected), (sweep_z, tiled, parity, vertical is not None)
                np.testing.assert_allclose(cupy.asnumpy(outflow_device), outflow, rtol=1e-12)
    lower = rng.uniform(-0.2, 0.0, (2, 1, 6, 9, 11)).astype(np.float32)
    coefficients = (lower, rng.uniform(0.5, 1.0, lower.shape).astype(np.float32),
                    rng.uniform(-0.2, 0.0, lower.shape).astype(np.float32))
    conductance = rng.uniform(0.1, 0.5, (2, 1, 5, 9, 11)).astype(np.float32)
    deposition = rng.uniform(0.0, 1e-3, (1, 2, 6, 9, 11)).astype(np.float32)
    dz = rng.uniform(4.0, 9.0, (1, 1, 6, 1, 1)).astype(np.float32)
    expected = CudaVerticalSolve(np, HostKernels)(field, coefficients, conductance, dz, deposition, 0.7)
    got = CudaVerticalSolve(cupy, CupyKernels)(cupy.asarray(field), tuple(cupy.asarray(c) for c in coefficients),
                                               cupy.asarray(conductance), cupy.asarray(dz),
                                               cupy.asarray(deposition), 0.7)
    assert np.array_equal(cupy.asnumpy(got), expected)


def test_host_kernels_run_the_random_case_with_mixed_winds_and_masks():
    """The device comparison's inputs on the host: every branch runs and mass is accounted for.
    With zero correction terms and no diffusion the swept mass changes only by the outflow."""
    fused, rng = random_sweeps(np, HostKernels)
    field = rng.uniform(0.5, 1.5, (2, 2, 6, 9, 11)).astype(np.float32)
    for parity in (0, 1):
        swept, outflow = fused.apply(field, 0.7, parity)
        assert np.all(np.isfinite(swept)) and outflow.shape == (2, 2)
    plain = CudaFusedSweeps(*(np.asarray(a) for a in (fused.u, fused.v, fused.w)), None, True, None, 20.0, 25.0,
                            np.asarray(fused.dz_real), np.zeros(2), "mc", xp=np, kernels=HostKernels)
    volume = 20.0 * 25.0 * np.asarray(fused.dz_real, np.float64)[None, None, :, None, None]
    for parity in (0, 1):
        swept, outflow = plain.apply(field, 0.7, parity)
        before = (field * volume).sum(axis=(2, 3, 4))
        after = (swept.astype(np.float64) * volume).sum(axis=(2, 3, 4))
        np.testing.assert_allclose(after, before - outflow, rtol=2e-6)


def test_kernel_profile_times_every_launch_of_the_step(tmp_path):
    """``python -m hpc.cuda_profile --host``: the GPU profiling script run on the host build (its
    figures mean nothing there; the check is that every kernel of a step is timed and reported)."""
    report = tmp_path / "profile.json"
    assert profile_main(["--n", "12", "--members", "2", "--steps", "4", "--host", "--json", str(report)]) == 0
    tiled, columns = json.loads(report.read_text())
    assert {row["kernel"]: row["launches"] for row in tiled["kernels"]} == {
        "tiled_step_even": 2, "tiled_step_odd": 2}  # one kernel per step
    assert {row["kernel"]: row["launches"] for row in columns["kernels"]} == {
        "sweep_xy": 2, "sweep_yx": 2, "diffuse": 4}  # 4 steps: 2 even, 2 odd; no vertical wind
    for profile in (tiled, columns):
        assert all(row["median_ms"] > 0 and row["traffic_bytes"] == 2 * 4 * 2 * 12**3 for row in profile["kernels"])


def small_model(shape, limiter: str, vertical_wind: bool, vertical: str):
    """A model on a grid with one to three cells along some axes: every ghost-cell branch of the
    kernels (a column shorter than its five-cell window) is taken."""
    from engine import DispersionModel, Grid, PointSource, Species, Wind, WindProfile

    nz, ny, nx = shape
    grid = Grid(nx, ny, 20.0, 20.0, np.arange(0.0, 10.0 * (nz + 1), 10.0), dtype="float32", backend="numpy")
    wind = Wind.from_profiles(grid, [WindProfile(3.0, 230.0, vertical_velocity=0.05 if vertical_wind else 0.0),
                                     WindProfile(2.0, 40.0)])
    species = [Species("A", deposition_velocity=0.01, background=1e-9)]
    sources = [PointSource("stack", {"A": 1.0}, x=10.0 * nx, y=10.0 * ny, height=5.0 * nz)]
    return DispersionModel(grid, wind, Diffusivity.constant(grid, 3.0, 2.0, 2), species, sources, limiter=limiter,
                           vertical_diffusion=vertical)


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 2, 3), (3, 1, 2), (2, 3, 1), (4, 5, 2), (3, 3, 3)])
@pytest.mark.parametrize("vertical_wind,vertical", [(True, "implicit"), (False, "auto")])
def test_cuda_kernels_on_grids_shorter_than_their_stencils(shape, vertical_wind, vertical):
    reference = small_model(shape, "superbee", vertical_wind, vertical)
    candidate = with_host_kernels(small_model(shape, "superbee", vertical_wind, vertical))
    assert_identical_runs(reference, candidate, 0.9 * reference.stable_dt(), 4)


def plane_deformation_model(shape, limiter: str, building: bool, vertical: str, sink: float = 0.0):
    """u = a(x - x0), v = -(a - s)(y - y0), w = -s z over several tiles of the one-pass kernels
    (a partial tile at the far edges): divergence-free with divergent sweeps, so the correction is
    active, the wind changes sign in x and y, and every tile edge and domain edge is crossed;
    ``sink`` s > 0 adds a vertical wind (the kernel with the z sweep)."""
    from engine import DispersionModel, Grid, PointSource, Species, Wind

    nz, ny, nx = shape
    grid = Grid(nx, ny, 20.0, 20.0, np.arange(0.0, 8.0 * (nz + 1), 8.0), dtype="float32", backend="numpy")
    if building:
        grid.add_box(300, 420, 100, 180, 12.0)
    rate = 0.003  # 1/s
    x_faces = np.arange(nx + 1) * grid.dx
    y_faces = np.arange(ny + 1) * grid.dy
    u = np.broadcast_to(rate * (x_faces - 0.4 * x_faces[-1]), (1, nz, ny, nx + 1))
    v = np.broadcast_to(-(rate - sink) * (y_faces - 0.6 * y_faces[-1])[:, None], (1, nz, ny + 1, nx))
    z_faces = np.concatenate([[0.0], np.cumsum(grid.dz)])
    w = np.broadcast_to(-sink * z_faces[:, None, None], (1, nz + 1, ny, nx))
    wind = Wind(grid, u, v, w)
    species = [Species("A", deposition_velocity=0.01, background=1e-9), Species("B")]
    sources = [PointSource("stack", {"A": 1.0, "B": 0.5}, x=0.5 * nx * 20.0, y=0.45 * ny * 20.0, height=6.0)]
    return DispersionModel(grid, wind, Diffusivity.constant(grid, 4.0, 1.5, 1), species, sources, limiter=limiter,
                           vertical_diffusion=vertical)


@pytest.mark.parametrize("limiter,building,vertical,sink", [
    ("mc", False, "auto", 0.0), ("minmod", True, "implicit", 0.0), ("vanleer", True, "auto", 0.0),
    ("mc", False, "auto", 0.002), ("superbee", True, "implicit", 0.001), ("minmod", False, "implicit", 0.002)])
def test_one_pass_kernel_over_many_tiles_with_the_divergence_correction(limiter, building, vertical, sink):
    reference = plane_deformation_model((7, 21, 70), limiter, building, vertical, sink)
    candidate = with_host_kernels(plane_deformation_model((7, 21, 70), limiter, building, vertical, sink))
    assert reference.transport._correct_divergence == (not building)
    assert candidate.transport._fused.sweep_z == (sink > 0) and candidate.transport._fused.tiled
    assert_identical_runs(reference, candidate, 0.9 * reference.stable_dt(), 6)


@pytest.mark.parametrize("sweep_z", [False, True])
def test_one_pass_and_multi_pass_kernels_give_the_same_floats(sweep_z):
    """The tiled kernels and the column kernels (sweeps, then diffuse) are two schedules of one
    computation: a random wind of both signs in 3D, correction terms, face masks, deposition."""
    fused, rng = random_sweeps(np, HostKernels, sweep_z=sweep_z)
    field, conductance, deposition = random_state(rng)
    for parity in (0, 1):
        for vertical in (None, (conductance, deposition)):
            for segments in (1, 2):
                fused.tiled, fused.segments = True, segments
                one_pass, outflow_one = fused.apply(field, 0.7, parity, vertical=vertical)
                fused.tiled = False
                multi_pass, outflow_multi = fused.apply(field, 0.7, parity, vertical=vertical)
                assert np.array_equal(one_pass, multi_pass), (parity, vertical is not None, segments)
                np.testing.assert_allclose(outflow_one, outflow_multi, rtol=1e-12)


@pytest.mark.parametrize("segments", [2, 3, 9])
@pytest.mark.parametrize("vertical", ["auto", "implicit"])
@pytest.mark.parametrize("vertical_wind", [False, True])
def test_one_pass_kernel_cut_into_level_segments(segments, vertical, vertical_wind):
    """A block may march only some of the levels (so one field fills a GPU): each segment's edge
    levels take their vertical step, and with vertical wind their z sweep, from levels computed
    again by the segment beside it; the floats must not change, whatever the cut (9 segments:
    one level each)."""
    reference = build("numpy", "float32", "mc", True, True, vertical_wind, vertical)
    candidate = with_host_kernels(build("numpy", "float32", "mc", True, True, vertical_wind, vertical))
    candidate.transport._fused.segments = segments
    assert candidate.transport.grid.nz == 9
    assert_identical_runs(reference, candidate, 0.9 * reference.stable_dt(), 6)
