"""The ``plumetwin`` command end to end, in a subprocess, on the tiny configs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TINY = ["grid=tiny", "sources=tiny", "receptors=tiny", "met=neutral", "time.stop=120", "backend=numpy", "output=fast"]


def plumetwin_command() -> list[str]:
    """The installed console script, or the module where the package is not installed."""
    script = Path(sys.executable).with_name("plumetwin")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from engine.app.cli import main; sys.exit(main())"]


def plumetwin(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run([*plumetwin_command(), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def printed_path(stdout: str, label: str) -> Path:
    lines = [line for line in stdout.splitlines() if line.startswith(f"{label}: ")]
    assert len(lines) == 1, stdout
    return Path(lines[0][len(label) + 2:])


def test_run_writes_results_and_map_and_prints_their_paths(tmp_path):
    run_dir = tmp_path / "run"
    done = plumetwin("run", *TINY, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    h5, png = printed_path(done.stdout, "results"), printed_path(done.stdout, "ground map")
    assert h5 == run_dir / "park.h5" and png == run_dir / "park_ground_SO2.png"
    assert h5.stat().st_size > 0 and not Path(f"{h5}.part").exists()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = [line for line in done.stdout.splitlines() if " steps to t = 120 s " in line]
    assert len(summary) == 1 and "mass budget residual" in summary[0]

    from engine.output import open_run

    with open_run(h5) as run:
        series = run.receptors("SO2")
    assert series.shape[-1] == 2


@pytest.mark.parametrize(("override", "expected"), [
    ("grid.dx=-10", "plumetwin: error: grid.dx: must be a positive spacing in metres, got -10.0"),
    ("grid.spacing=10", "plumetwin: error: grid.spacing: Key 'spacing' not in 'GridConfig'"),
    ("sources.0.unit=kg/day", "plumetwin: error: sources[0].unit (test_stack): unknown emission unit 'kg/day'"),
])
def test_bad_override_exits_2_with_one_message_and_no_traceback(override, expected, tmp_path):
    run_dir = tmp_path / "run"
    done = plumetwin("run", *TINY, override, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(expected), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not list(tmp_path.rglob("*.h5")) and not list(tmp_path.rglob("*.part"))


def test_multirun_gives_one_result_file_per_value(tmp_path):
    sweep_dir = tmp_path / "sweep"
    done = plumetwin("run", "--multirun", *TINY, "backend.dtype=float32,float64", f"hydra.sweep.dir={sweep_dir}",
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    results = sorted(sweep_dir.glob("*/park.h5"))
    assert len(results) == 2
    assert done.stdout.count("results: ") == 2


def test_help_lists_the_tasks_and_unknown_task_is_an_error(tmp_path):
    for args in ([], ["--help"]):
        done = plumetwin(*args, cwd=tmp_path)
        assert done.returncode == 0
        assert "tasks:" in done.stdout and "\n  run " in done.stdout
    done = plumetwin("simulate", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("plumetwin: error: unknown task 'simulate'")


def test_killed_run_resumes_from_its_checkpoint(tmp_path):
    import signal
    import time

    import h5py
    import numpy as np

    args = ["grid=tiny", "sources=tiny", "receptors=tiny", "backend=numpy", "output=fast", "time.stop=18000",
            "output.checkpoint_every=40", "output.progress=false"]
    first = tmp_path / "first"
    process = subprocess.Popen([*plumetwin_command(), "run", *args, f"hydra.run.dir={first}"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoints = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        checkpoints = list(first.glob("*.checkpoint.h5"))
        if checkpoints:
            with h5py.File(checkpoints[0]) as f:
                if f.attrs["iteration"] >= 80:
                    break
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be killed: lengthen time.stop"
    process.send_signal(signal.SIGKILL)
    process.wait()
    part = list(first.glob("*.h5.part"))
    assert checkpoints and part and not list(first.glob("tiny.h5"))

    resumed = plumetwin("run", *args, f"resume={checkpoints[0]}", f"hydra.run.dir={tmp_path / 'second'}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    h5 = printed_path(resumed.stdout, "results")
    assert h5.parent == first
    with h5py.File(h5) as f:
        times = f["receptors/time"][...]
        steps = np.diff(times)
        assert times[0] == 0 and times[-1] == 18000 and np.allclose(steps, steps[0])  # no gap, no duplicate
