"""Condense a pytest-benchmark JSON into the figures we commit (no host names, no paths).

usage: python benchmarks/summarize.py <pytest-benchmark.json> <out.json>
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(source: str, target: str) -> None:
    raw = json.loads(Path(source).read_text())
    rows = []
    for bench in raw["benchmarks"]:
        info = bench.get("extra_info", {})
        rows.append({
            "name": bench["name"], **info,
            "median_s": bench["stats"]["median"], "min_s": bench["stats"]["min"], "max_s": bench["stats"]["max"],
            "rounds": bench["stats"]["rounds"],
        })
    import os  # noqa: PLC0415

    summary = {
        "what": "the pytest-benchmark suite: transport step throughput, mass-consistent wind solve",
        "device": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
        "date": raw.get("datetime", ""), "results": rows,
    }
    Path(target).write_text(json.dumps(summary, indent=2) + "\n")
    for row in rows:
        if "cells_per_s" in row:
            print(f"wind solve {row.get('grid', '?')}: {row['median_s']:.1f} s, {row['cells_per_s'] / 1e6:.2f} M cells/s")
            continue
        print(f"{row.get('backend', '?'):6s} {row.get('grid', '?'):6s} {row['median_s'] * 1e3:9.1f} ms/step "
              f"{row.get('mlups', float('nan')):9.1f} M cell-updates/s")


if __name__ == "__main__":
    main(*sys.argv[1:3])
