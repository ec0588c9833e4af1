"""The validate task end to end: suites from the registry, a broken suite reported while the others
run, the HTML report and scores.json; and the report rendered by headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ConfigError
from validation.validate_task import enabled_suites, validate_task

QUICK = {"backend": "numpy", "suites": {
    "analytic": {"enabled": True, "options": {"resolution": "coarse", "cases": ["puff", "step"],
                                              "limiters": ["upwind", "mc"]}},
    "prairie_grass": {"enabled": False},
    "broken": {"enabled": True, "module": "validation.no_such_suite:run_suite"},
}}


def test_cli_runs_the_suites_and_reports_a_broken_one_without_stopping(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    command = [sys.executable, "-c", "import sys; from engine.app.cli import main; sys.exit(main())", "validate",
               "backend=numpy", "suites.prairie_grass.enabled=false", "suites.analytic.options.resolution=coarse",
               "suites.analytic.options.cases=[puff,mass]",
               "+suites.broken={enabled: true, module: 'validation.no_such_suite:run_suite'}",
               f"hydra.run.dir={tmp_path}"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr  # everything reported, and the broken suite makes it exit 1
    lines = done.stdout.splitlines()
    assert any(line.startswith("analytic") and "PASS" in line for line in lines)
    assert any(line.startswith("broken") and "ERROR" in line and "no_such_suite" in line for line in lines)
    assert f"report: {tmp_path / 'report.html'}" in lines
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["suites"]["analytic"]["passed"] is True
    assert scores["suites"]["analytic"]["scores"]["puff"]["orders"][0] >= 1.5
    assert "cannot import" in scores["errors"]["broken"]
    page = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in page and "suites:" in page and "ERROR" in page


def test_a_suite_that_raises_is_an_error_and_the_others_still_report(tmp_path):
    config = {"backend": "numpy", "suites": {
        "sensors": {"enabled": True, "options": {"run": None}},  # missing paths: the suite raises
        "analytic": {"enabled": True, "options": {"resolution": "coarse", "cases": ["mass"]}}}}
    summary = validate_task(config, tmp_path)
    assert summary["suites"]["analytic"]["passed"] is True
    assert "suites.sensors.options.run" in summary["errors"]["sensors"]


def test_suite_block_errors_name_the_key():
    with pytest.raises(ConfigError, match="suites.unknown"):
        enabled_suites({"unknown": {"enabled": True}})
    with pytest.raises(ConfigError, match="suites.analytic.option"):
        enabled_suites({"analytic": {"enabled": True, "option": {}}})
    assert enabled_suites({"analytic": {"enabled": False}}) == []


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(html: Path, png: Path, width: int = 1200, height: int = 1600) -> subprocess.CompletedProcess:
    """Render ``html`` with headless Chromium (flags for running as root without a display)."""
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                               "--disable-background-networking", "--disable-component-update", "--disable-sync",
                               "--no-first-run", f"--user-data-dir={profile}", f"--window-size={width},{height}",
                               f"--screenshot={png}", html.resolve().as_uri()],
                              capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (make chromium, or apt-get install chromium)")
def test_report_renders_in_headless_chromium(tmp_path):
    config = {k: v for k, v in QUICK.items()}
    summary = validate_task(config, tmp_path)
    png = tmp_path / "report.png"
    done = screenshot(Path(summary["html"]), png)
    assert done.returncode == 0 and png.is_file(), done.stderr[-2000:]
    import matplotlib.image  # noqa: PLC0415

    pixels = matplotlib.image.imread(png)[..., :3]
    # A blank page is one colour; the report has text, tables, coloured verdicts and figures.
    distinct = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0).shape[0]
    not_white = float(np.mean(pixels.min(axis=-1) < 0.95))
    print(f"screenshot: {distinct} distinct colours, {not_white:.1%} non-white")
    assert distinct > 200 and not_white > 0.03
