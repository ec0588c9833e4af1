"""The ``validate`` task: run the enabled validation suites and write one report.

Configuration: ``conf/validate.yaml``. Callable without Hydra:
``validate_task({"suites": {"analytic": {"enabled": True}}}, "out/")``.

Each suite is a function ``run_suite(options, out_dir, backend) -> SuiteResult`` imported only
when enabled, from :data:`SUITES` or from the suite's own ``module: "package.module:function"``.
A suite that cannot be imported, raises, or returns something else is recorded as an error with
its message; the remaining suites still run and the report is written either way.
"""

from __future__ import annotations

import importlib
import logging
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import yaml

import engine
from engine.app.validate import plain_config
from engine.backend import BackendUnavailableError, resolve_backend
from engine.errors import ConfigError

from .report import write_report
from .report_types import SuiteResult

log = logging.getLogger(__name__)

#: Suites by name: where their ``run_suite`` lives.
SUITES: dict[str, str] = {
    "analytic": "validation.analytic_suite:run_suite",
    "prairie_grass": "validation.prairie_grass.suite:run_suite",
    "sensors": "validation.sensor_suite:run_suite",
}
SUITE_KEYS = ("enabled", "options", "module")


def load_suite(name: str, path: str) -> Callable[..., SuiteResult]:
    """Import ``"package.module:function"``; errors name the suite and the path."""
    module_name, _, function_name = path.partition(":")
    if not module_name or not function_name:
        raise ConfigError(f"suites.{name}.module", f"{path!r} is not of the form 'package.module:function'")
    module = importlib.import_module(module_name)
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ImportError(f"{module_name} has no function {function_name}")
    return function


def enabled_suites(block: dict[str, Any]) -> list[tuple[str, str, dict]]:
    """``(name, module path, options)`` of each enabled suite, in the configuration's order."""
    out = []
    for name, suite in (block or {}).items():
        suite = suite or {}
        unknown = sorted(set(suite) - set(SUITE_KEYS))
        if unknown:
            raise ConfigError(f"suites.{name}.{unknown[0]}", f"unknown key; use {', '.join(SUITE_KEYS)}")
        if not suite.get("enabled", False):
            continue
        path = suite.get("module") or SUITES.get(name)
        if path is None:
            raise ConfigError(f"suites.{name}", f"unknown suite; known: {', '.join(SUITES)} (or give module: "
                                                "'package.module:function')")
        out.append((name, path, dict(suite.get("options") or {})))
    return out


def validate_task(cfg: Any, output_dir: str | Path | None = None, attributes: dict | None = None) -> dict[str, Any]:
    """Run the enabled suites into ``output_dir``; write ``report.html`` and ``scores.json``.

    Returns
    -------
    dict
        ``html``, ``json`` (paths), ``suites`` (name → ``{"passed": bool | None, "seconds": float}``),
        ``errors`` (name → message), ``total_time`` (s) and ``criteria_met`` (False when a suite failed
        its criteria or raised: the command then exits with status 1).
    """
    started = time.perf_counter()
    config = plain_config(cfg)
    config.pop("hydra", None)
    output_dir = Path(output_dir or config.get("output", {}).get("dir") or Path("results") / "validate")
    output_dir.mkdir(parents=True, exist_ok=True)
    # Resolved once here, so that "auto" is decided (and logged) once, not on every grid a suite builds.
    try:
        chosen = config.get("backend", "auto")
        backend = resolve_backend(str(chosen.get("name", "auto") if isinstance(chosen, dict) else chosen)).name
    except BackendUnavailableError as exc:
        raise ConfigError("backend", str(exc)) from None
    suites = enabled_suites(config.get("suites") or {})
    if not suites:
        raise ConfigError("suites", "no suite is enabled; enable one, e.g. suites.analytic.enabled=true")
    results: list[SuiteResult] = []
    verdicts: dict[str, bool | None] = {}
    errors: dict[str, str] = {}
    timings: dict[str, float] = {}
    for name, path, options in suites:
        suite_started = time.perf_counter()
        try:
            run_suite = load_suite(name, path)
        except ImportError as exc:
            errors[name] = f"cannot import {path}: {exc}"
        else:
            try:
                result = run_suite(options, output_dir / name, backend)
                if not isinstance(result, SuiteResult):
                    raise TypeError(f"{path} returned {type(result).__name__}, not a SuiteResult")
                results.append(result)
                verdicts[name] = result.passed
            except Exception as exc:  # noqa: BLE001 - one suite's failure must not stop the others
                log.debug("suite %s failed:\n%s", name, traceback.format_exc())
                errors[name] = f"{type(exc).__name__}: {exc}"
        timings[name] = time.perf_counter() - suite_started
        log.info("suite %s: %.1f s", name, timings[name])
    resolved = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    paths = write_report(output_dir, results, errors, resolved, engine.__version__)
    summary = {"html": str(paths["html"]), "json": str(paths["json"]), "errors": errors,
               "suites": {name: {"passed": passed, "seconds": timings[name]} for name, passed in verdicts.items()},
               "total_time": time.perf_counter() - started,
               "criteria_met": not errors and all(passed is not False for passed in verdicts.values())}
    return summary


def report_validate(summary: dict[str, Any]) -> None:
    """Print one line per suite and where the report is."""
    for name, suite in summary["suites"].items():
        verdict = {True: "PASS", False: "FAIL", None: "no criteria"}[suite["passed"]]
        print(f"{name:16s} {verdict:11s} ({suite['seconds']:.1f} s)")
    for name, message in summary["errors"].items():
        print(f"{name:16s} ERROR       {message}")
    print(f"report: {summary['html']}")
    print(f"scores: {summary['json']}")
