"""The ``plumetwin`` command: ``plumetwin <task> [Hydra overrides...]``.

Each task is one :class:`Task` entry in :data:`TASKS`: its primary config in ``conf/``, the plain
function that does the work and the function that prints its summary. Tasks defined above the
engine (in ``scenarios/`` or ``validation/``) are named by ``"module:function"`` paths and imported
only when run, so the engine never depends on the packages built on it. Hydra composes the
configuration (``conf/<task>.yaml`` and its groups), sets up logging and the run directory, and
handles ``--multirun``, ``--cfg job`` and ``--help``; everything else is plain Python.

Errors meant for the user (:class:`~engine.errors.PlumetwinError`, a Hydra composition error)
print ``plumetwin: error: <message>`` on stderr and exit with status 2, without a traceback. A task
that ran to the end but failed its own criteria (its summary says ``criteria_met: False``, as a
failing validation suite does) exits with status 1.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

import engine

from ..errors import PlumetwinError
from . import schema  # noqa: F401 - registers the config schemas in Hydra's ConfigStore
from .tasks import run_task, summary_line
from .validate import omegaconf_error

EXIT_OK, EXIT_CRITERIA_FAILED, EXIT_ERROR = 0, 1, 2


class ConfigDirectoryNotFound(PlumetwinError):
    """The repository's conf/ directory is not next to the engine package."""


@dataclass(frozen=True)
class Task:
    """A subcommand.

    ``config``: name of its primary config in conf/; ``work``: ``(cfg, output_dir, attributes)
    -> summary dict``; ``report``: prints the summary on stdout. Either may be given as a
    ``"package.module:function"`` path, imported when the task runs.
    """

    name: str
    config: str
    help: str
    work: Callable[..., dict[str, Any]] | str
    report: Callable[[dict[str, Any]], None] | str

    def resolve(self, which: str) -> Callable:
        """The ``work`` or ``report`` callable, importing it first when it is given by path."""
        target = getattr(self, which)
        if callable(target):
            return target
        module_name, _, function_name = target.partition(":")
        return getattr(importlib.import_module(module_name), function_name)


def report_run(summary: dict[str, Any]) -> None:
    print(summary_line(summary))
    print(f"results: {summary['h5']}")
    print(f"ground map: {summary['png']}")
    if summary.get("vtr"):
        print(f"3D scene for ParaView: {summary['vtr']}")
    if summary.get("render"):
        print(f"3D render: {summary['render']}")


#: Subcommands in the order ``plumetwin --help`` lists them; a new task is one more entry.
TASKS: dict[str, Task] = {
    task.name: task for task in (
        Task("run", "run", "simulate one scenario; write <name>.h5 and its ground-level concentration map",
             run_task, report_run),
        Task("ensemble", "ensemble", "N perturbed members of a scenario: mean, percentile and exceedance-probability maps",
             "scenarios.ensemble_task:ensemble_task", "scenarios.ensemble_task:report_ensemble"),
        Task("compare", "compare", "baseline vs retrofit options over a met ensemble: exceedances, reductions, "
             "cost-effectiveness, HTML report", "scenarios.compare_task:compare_task",
             "scenarios.compare_task:report_compare"),
        Task("release", "release", "accidental toxic release: AEGL threat zones and distances, arrival times, peaks "
             "and toxic loads at receptors, ensemble AEGL-2 probability", "scenarios.release_task:release_task",
             "scenarios.release_report:report_release"),
        Task("ingest", "ingest", "read sensor records, convert units, flag them; write a cleaned long table "
             "and a QC report", "engine.app.ingest_task:ingest_task", "engine.app.ingest_task:report_ingest"),
        Task("assimilate", "assimilate", "fuse sensor records with an ensemble (EnKF/LETKF), correct emissions; "
             "or locate an unknown leak", "engine.app.assimilate:assimilate_task",
             "engine.app.assimilate:report_assimilate"),
        Task("validate", "validate", "verification and validation suites (analytic, Prairie Grass, sensor records): "
             "scores, HTML report", "validation.validate_task:validate_task", "validation.validate_task:report_validate"),
    )
}


def conf_dir() -> Path:
    """The repository's ``conf/`` directory, next to the ``engine`` package."""
    path = Path(engine.__file__).resolve().parents[1] / "conf"
    if not (path / "run.yaml").is_file():
        raise ConfigDirectoryNotFound(
            f"no configuration directory at {path} (conf/run.yaml is missing); plumetwin reads conf/ "
            "next to the engine package: run it from a checkout installed with pip install -e ."
        )
    return path


def usage() -> str:
    width = max(len(name) for name in TASKS)
    lines = ["usage: plumetwin <task> [key=value ...]          one run, Hydra overrides",
             "       plumetwin <task> --multirun key=a,b ...   one run per combination of values",
             "       plumetwin <task> --cfg job [key=value ...] print the composed configuration",
             "       plumetwin <task> --help                   the task's config groups and options",
             "", "tasks:"]
    lines += [f"  {name.ljust(width)}  {task.help}" for name, task in TASKS.items()]
    lines += ["", "examples:",
              "  plumetwin run",
              "  plumetwin run met.speed=6 met.direction=200 backend=numpy",
              "  plumetwin run grid=tiny sources=tiny receptors=tiny time.stop=300",
              "  plumetwin run --multirun backend.dtype=float32,float64"]
    return "\n".join(lines)


def fail(message: str) -> int:
    sys.stderr.write(f"plumetwin: error: {message}\n")
    return EXIT_ERROR


def one_line(text: str) -> str:
    """Hydra's multi-line messages as one line (the search-path listing dropped)."""
    parts: list[str] = []
    for line in text.splitlines():
        if line.startswith("Config search path"):
            break
        stripped = line.strip()
        if not stripped:
            continue
        if line[:1].isspace() and parts:  # an indented list, e.g. the available options
            parts[-1] += (" " if parts[-1].endswith(":") else ", ") + stripped
        else:
            parts.append(stripped)
    return "; ".join(parts)


def describe_hydra_error(exc: BaseException) -> str:
    """``key: what is wrong`` for composition errors, Hydra's own words otherwise."""
    cause = exc if isinstance(exc, OmegaConfBaseException) else exc.__cause__
    if isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
        return str(omegaconf_error(cause))
    return one_line(str(exc))


def launch(task: Task, args: Sequence[str]) -> int:
    """Run ``task`` through Hydra with command-line ``args``; returns the exit status."""
    failures: list[str] = []
    unmet: list[int] = []  # exit statuses of tasks that ran but failed their own criteria
    work, report = task.resolve("work"), task.resolve("report")

    def task_function(cfg: DictConfig) -> None:
        runtime = HydraConfig.get()
        output_dir = Path(runtime.runtime.output_dir)
        if cfg.get("output") and cfg.output.get("dir"):
            output_dir = Path(cfg.output.dir)
        elif cfg.get("resume"):
            # A resumed run continues the interrupted run's file, which lies beside its checkpoint.
            output_dir = Path(cfg.resume).parent
        attributes = {"hydra_overrides": " ".join(runtime.overrides.task)}
        try:
            summary = work(cfg, output_dir, attributes)
        except PlumetwinError as exc:
            # Reported here rather than raised: Hydra would print its own traceback, and in a
            # multirun the other jobs should still run.
            failures.append(str(exc))
            fail(str(exc))
            return
        report(summary)
        if summary.get("criteria_met") is False:
            # The task ran but its own criteria failed (a validation suite, say): scripts and CI see it.
            unmet.append(EXIT_CRITERIA_FAILED)

    main = hydra.main(config_path=str(conf_dir()), config_name=task.config, version_base="1.3")(task_function)
    saved_argv, saved_env = sys.argv, os.environ.get("HYDRA_FULL_ERROR")
    sys.argv = [f"plumetwin {task.name}", *args]
    # Makes Hydra raise composition errors instead of printing them with exit status 1, so that
    # they are reported like every other configuration error.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except (HydraException, OmegaConfBaseException) as exc:
        return fail(describe_hydra_error(exc))
    finally:
        sys.argv = saved_argv
        if saved_env is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved_env
    if failures:
        return EXIT_ERROR
    return max(unmet, default=EXIT_OK)


def tune_allocator() -> bool:
    """Keep freed NumPy temporaries in the process heap (glibc only; a no-op elsewhere).

    A time step makes dozens of temporaries of a few MB each. Above glibc's default mmap
    threshold every one is mapped and unmapped anew, page-faulting through fresh memory: on the
    default park grid that kernel time made a NumPy step 2.7 times slower. Returns True when the
    allocator accepted the settings.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # noqa: PLC0415
    import ctypes.util  # noqa: PLC0415

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
        return bool(libc.mallopt(m_mmap_threshold, 64 * 2**20) and libc.mallopt(m_trim_threshold, 512 * 2**20))
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``plumetwin`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return EXIT_OK
    if args[0] == "--version":
        print(f"plumetwin {engine.__version__}")
        return EXIT_OK
    task = TASKS.get(args[0])
    if task is None:
        hint = f" (overrides come after the task: plumetwin run {args[0]})" if "=" in args[0] else ""
        return fail(f"unknown task {args[0]!r}; tasks: {', '.join(TASKS)}{hint}")
    tune_allocator()
    try:
        return launch(task, args[1:])
    except PlumetwinError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        sys.stderr.write("plumetwin: interrupted; a run with checkpoints resumes with resume=<its .checkpoint.h5>\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
