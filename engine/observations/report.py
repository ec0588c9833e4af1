"""The QC report: what was read, what every flag counts, and each problem with where it is.

Problems are grouped (one entry per flag, reason and column) with their count, the first lines
of the input they occur on and a few example values, so a report on a million rows stays short
while still pointing at every kind of problem. Written as JSON (for programs) and as text and
HTML (for people), atomically.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write_text
from .flags import ALL_FLAGS, QCFlag, describe_flags

MAX_LINES = 20
MAX_EXAMPLES = 5


@dataclass
class Issue:
    """One kind of problem: ``flag`` name, ``reason`` (a sentence), the ``column`` it concerns,
    how many rows, the first input ``lines``, a few ``examples`` and the series it touched."""

    flag: str
    reason: str
    column: str = ""
    count: int = 0
    lines: list[int] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    series: list[str] = field(default_factory=list)

    def describe(self) -> str:
        where = f" (column {self.column})" if self.column else ""
        text = f"[{self.flag}] {self.reason}{where}: {self.count} row(s)"
        if self.lines:
            more = ", …" if self.count > len(self.lines) else ""
            text += f", line(s) {', '.join(str(n) for n in self.lines)}{more}"
        if self.examples:
            text += f"; e.g. {', '.join(self.examples)}"
        if self.series:
            text += f"; series {', '.join(self.series[:8])}{' …' if len(self.series) > 8 else ''}"
        return text


class IssueLog:
    """Collects problems, grouped by (flag, reason, column)."""

    def __init__(self) -> None:
        self._issues: dict[tuple[str, str, str], Issue] = {}

    def add(self, flag: QCFlag, reason: str, line: int = 0, column: str = "", example: Any = None,
            series: str | None = None, count: int = 1) -> None:
        key = (flag.name.lower(), reason, column)
        issue = self._issues.setdefault(key, Issue(key[0], reason, column))
        issue.count += count
        if line and len(issue.lines) < MAX_LINES and line not in issue.lines:
            issue.lines.append(int(line))
        if example is not None and len(issue.examples) < MAX_EXAMPLES:
            text = repr(example) if isinstance(example, str) else str(example)
            if text not in issue.examples:
                issue.examples.append(text)
        if series and series not in issue.series:
            issue.series.append(series)

    @property
    def issues(self) -> list[Issue]:
        order = {f.name.lower(): n for n, f in enumerate(ALL_FLAGS)}
        return sorted(self._issues.values(), key=lambda i: (order.get(i.flag, 99), -i.count, i.reason))


@dataclass
class QCReport:
    """The outcome of one ingest.

    Attributes
    ----------
    sources:
        Input files (or descriptions) read.
    rows_read:
        Rows (values) found in the input; a wide file counts one per mapped cell.
    rows_inserted:
        Rows added for time steps absent from a regular series (flagged ``missing``).
    rows_total, rows_good:
        Rows in the result, and those with no flag.
    flag_counts:
        Rows per flag name.
    series:
        Per station and species: ``station_id``, ``species``, ``rows``, ``good``, ``first``, ``last``
        (ISO times), ``interval_s`` (the regular step found, or None) and ``flags`` (counts).
    stations:
        Per station: ``station_id``, ``x``, ``y``, ``z_agl``, ``flags`` (names).
    issues:
        Grouped problems (:class:`Issue`).
    notes:
        What the mapping declared or the reader noticed that is not a row flag (encoding, renamed
        or mislabelled columns, ignored columns, time convention, conversion conditions).
    """

    sources: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_inserted: int = 0
    rows_total: int = 0
    rows_good: int = 0
    flag_counts: dict[str, int] = field(default_factory=dict)
    series: list[dict] = field(default_factory=list)
    stations: list[dict] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_qc(cls, qc: np.ndarray, **kwargs) -> "QCReport":
        counts = describe_flags(qc)
        return cls(rows_total=int(qc.size), rows_good=int(np.count_nonzero(qc == 0)), flag_counts=counts, **kwargs)

    def issues_with(self, flag: str) -> list[Issue]:
        """Issues of one flag name (``"missing"``, ``"range"``...)."""
        return [i for i in self.issues if i.flag == flag]

    def to_dict(self) -> dict:
        return {
            "sources": self.sources, "rows_read": self.rows_read, "rows_inserted": self.rows_inserted,
            "rows_total": self.rows_total, "rows_good": self.rows_good, "flag_counts": self.flag_counts,
            "flag_bits": {f.name.lower(): int(f.value) for f in ALL_FLAGS},
            "notes": self.notes, "issues": [vars(i) for i in self.issues], "stations": self.stations,
            "series": self.series,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def summary(self) -> str:
        """One line: rows, good rows and the flags that occurred."""
        flagged = ", ".join(f"{name} {count}" for name, count in self.flag_counts.items() if count)
        good = 100.0 * self.rows_good / self.rows_total if self.rows_total else 0.0
        return (f"{self.rows_total} rows ({self.rows_read} read, {self.rows_inserted} inserted for missing "
                f"times), {self.rows_good} good ({good:.1f} %); flags: {flagged or 'none'}")

    def to_text(self) -> str:
        lines = ["QC report", "=========", f"sources: {', '.join(self.sources)}", self.summary(), ""]
        if self.notes:
            lines += ["Notes:"] + [f"- {n}" for n in self.notes] + [""]
        lines += ["Problems:"] + ([f"- {i.describe()}" for i in self.issues] or ["- none"]) + [""]
        if self.stations:
            lines.append("Stations:")
            for s in self.stations:
                where = "" if s.get("x") is None else f" at x={s['x']:.1f} m, y={s['y']:.1f} m, z={s['z_agl']:g} m"
                state = ", ".join(s["flags"]) or ("ok" if s.get("x") is not None else "position unknown")
                lines.append(f"- {s['station_id']}{where}: {state}")
            lines.append("")
        lines.append("Series (station / species: rows, good, first – last, step):")
        for s in self.series:
            step = f"{s['interval_s']:g} s" if s.get("interval_s") else "irregular"
            lines.append(f"- {s['station_id']} / {s['species']}: {s['rows']} rows, {s['good']} good, "
                         f"{s['first']} – {s['last']}, {step}")
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        e = html.escape
        rows = "".join(f"<tr><td>{e(i.flag)}</td><td>{e(i.reason)}</td><td>{e(i.column)}</td><td>{i.count}</td>"
                       f"<td>{e(', '.join(map(str, i.lines)))}</td><td>{e(', '.join(i.examples))}</td></tr>"
                       for i in self.issues)
        counts = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in self.flag_counts.items())
        series = "".join(f"<tr><td>{e(s['station_id'])}</td><td>{e(s['species'])}</td><td>{s['rows']}</td>"
                         f"<td>{s['good']}</td><td>{e(s['first'])}</td><td>{e(s['last'])}</td></tr>" for s in self.series)
        notes = "".join(f"<li>{e(n)}</li>" for n in self.notes)
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>QC report</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #bbb;padding:2px 6px;font-size:90%}</style></head><body>"
            f"<h1>QC report</h1><p>{e(', '.join(self.sources))}</p><p>{e(self.summary())}</p>"
            f"<h2>Notes</h2><ul>{notes or '<li>none</li>'}</ul>"
            "<h2>Problems</h2><table><tr><th>flag</th><th>reason</th><th>column</th><th>rows</th>"
            f"<th>lines</th><th>examples</th></tr>{rows}</table>"
            f"<h2>Flags</h2><table><tr><th>flag</th><th>rows</th></tr>{counts}</table>"
            "<h2>Series</h2><table><tr><th>station</th><th>species</th><th>rows</th><th>good</th><th>first</th>"
            f"<th>last</th></tr>{series}</table></body></html>\n"
        )

    def write(self, stem: str | Path) -> dict[str, Path]:
        """Write ``<stem>.json``, ``<stem>.txt`` and ``<stem>.html`` atomically; return their paths."""
        stem = Path(stem)
        paths = {}
        for suffix, text in (("json", self.to_json()), ("txt", self.to_text()), ("html", self.to_html())):
            paths[suffix] = atomic_write_text(stem.with_name(f"{stem.name}.{suffix}"), text)
        return paths
