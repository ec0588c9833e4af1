"""``python -m validation.prairie_grass [--runs all] [--resolution medium] [--convergence] --out DIR``:
simulate the Prairie Grass runs, print the overall statistics and write ``scores.json``,
``summary.md`` and the PNG figures into ``DIR``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from engine.atomic import atomic_write_text
from engine.errors import PlumetwinError

from .grids import RESOLUTIONS
from .scoring import QUANTITIES
from .suite import run_suite


def _runs(text: str):
    if text == "all":
        return "all"
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--runs must be 'all' or comma-separated run numbers, got {text!r}") from exc


def _fmt(entry: dict) -> str:
    if entry["value"] is None:
        return "n/a"
    if entry["low"] is None:
        return f"{entry['value']:.2f}"
    return f"{entry['value']:.2f} [{entry['low']:.2f}, {entry['high']:.2f}]"


def summary_markdown(scores: dict, wall_seconds: float, command: str) -> str:
    """A short Markdown summary of a run's numbers."""
    lines = ["# Prairie Grass: the engine against field measurements", "",
             f"Command: `{command}`; {len(scores['runs_used'])} runs simulated, "
             f"{len(scores['runs_excluded'])} excluded; "
             f"resolution {scores['resolution']}, backend {scores['backend']}; wall time {wall_seconds:.0f} s.", ""]
    for quantity, label in QUANTITIES.items():
        result = scores[quantity]
        lines += [f"## {label}", "", "| class | runs | pairs | FAC2 | FB | NMSE | MG | VG | R |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, stats in [("all", result["overall"])] + list(result["classes"].items()):
            lines.append(f"| {name} | {stats['runs']} | {stats['n']} | "
                         + " | ".join(_fmt(stats[m]) for m in ("fac2", "fb", "nmse", "mg", "vg", "r")) + " |")
        band = "holds" if all(result["band"].values()) else "fails"
        aim = "met" if all(result["aim"].values()) else "not met"
        ratios = ", ".join(f"{d} m: {v['geometric_mean_cp_over_co']:.2f}" for d, v in result["by_distance"].items())
        lines += ["", f"Good-model band {band}; aim {aim}. Geometric mean Cp/Co by arc: {ratios}.", ""]
    if "convergence" in scores:
        c = scores["convergence"]
        lines += [f"## Convergence ({c['from']} → {c['to']})", ""]
        for quantity, label in QUANTITIES.items():
            lines.append(f"- {label}: median relative change {c[quantity]['median']:.4f}, "
                         f"largest {c[quantity]['max']:.4f} "
                         f"over {c[quantity]['n']} arcs")
        lines.append("")
    by_reason: dict[str, list[str]] = {}
    for run, reason in scores["runs_excluded"].items():
        by_reason.setdefault(reason, []).append(run)
    excluded = "; ".join(f"{reason}: runs {', '.join(numbers)}" for reason, numbers in by_reason.items()) or "none"
    lines += [f"Excluded runs: {excluded}.", "",
              f"Flagged arcs ({len(scores['arcs_flagged'])}, left out of the arc-maximum and/or crosswind pairs): "
              + "; ".join(f"{arc}: {reason}" for arc, reason in scores["arcs_flagged"].items()) + ".", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m validation.prairie_grass", description=__doc__)
    parser.add_argument("--runs", type=_runs, default="all", help="'all' or comma-separated run numbers")
    parser.add_argument("--resolution", choices=sorted(RESOLUTIONS), default="medium")
    parser.add_argument("--convergence", action="store_true", help="also run the next finer resolution")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="numpy", help="engine backend (numpy, numba, cupy, auto)")
    parser.add_argument("--out", type=Path, required=True, help="directory for scores.json, summary.md and PNGs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    start = time.perf_counter()
    options = {"runs": args.runs, "resolution": args.resolution, "bootstrap": args.bootstrap, "seed": args.seed,
               "convergence": args.convergence}
    try:
        result = run_suite(options, args.out, args.backend)
    except PlumetwinError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - start
    scores = result.scores
    scores["total_wall_time_s"] = wall
    atomic_write_text(args.out / "scores.json", json.dumps(scores, indent=1, sort_keys=False) + "\n")
    command = "python -m validation.prairie_grass " + " ".join(argv if argv is not None else sys.argv[1:])
    atomic_write_text(args.out / "summary.md", summary_markdown(scores, wall, command))
    for quantity, label in QUANTITIES.items():
        overall = scores[quantity]["overall"]
        print(f"{label}: FAC2 {_fmt(overall['fac2'])}  FB {_fmt(overall['fb'])}  NMSE {_fmt(overall['nmse'])}  "
              f"(n = {overall['n']})")
    print(f"good-model band {'holds' if result.passed else 'fails'}; {wall:.0f} s; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
