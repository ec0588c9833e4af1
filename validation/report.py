"""The validation report: one self-contained HTML page and one ``scores.json`` for all suites.

The page has inline CSS, every PNG embedded as base64, a pass/fail summary, every suite's
sections (paragraphs, tables, figures), the resolved configuration as YAML, the plumetwin version
and the date. Both files are written atomically.
"""

from __future__ import annotations

import base64
import html
import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from engine.atomic import atomic_write_text

from .report_types import Section, SuiteResult, Table

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.45; padding: 0 1em; }
h1 { border-bottom: 3px solid #2b6cb0; padding-bottom: .3em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: right; }
th { background: #edf2f7; } td:first-child, th:first-child { text-align: left; }
caption { caption-side: top; font-weight: bold; text-align: left; padding-bottom: .3em; }
.pass { color: #fff; background: #2f855a; padding: .1em .5em; border-radius: 3px; }
.fail { color: #fff; background: #c53030; padding: .1em .5em; border-radius: 3px; }
.none { color: #fff; background: #718096; padding: .1em .5em; border-radius: 3px; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #555; } pre { background: #f7fafc; padding: 1em; overflow-x: auto; }
.note { font-size: .9em; color: #555; } .error { color: #c53030; white-space: pre-wrap; }
"""


def format_value(value: Any, digits: int = 3) -> str:
    """Numbers to ``digits`` significant figures, NaN as an en dash, everything else as text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.{digits}g}"
    return str(value)


def json_ready(value: Any) -> Any:
    """Nested values with NaN/inf as ``null`` and NumPy scalars as plain numbers (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if hasattr(value, "tolist"):
        return json_ready(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def _verdict(passed: bool | None) -> str:
    if passed is None:
        return '<span class="none">no criteria</span>'
    return '<span class="pass">PASS</span>' if passed else '<span class="fail">FAIL</span>'


def _table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(format_value(v))}</td>" for v in row) + "</tr>"
                   for row in table.rows)
    note = f'<p class="note">{html.escape(table.note)}</p>' if table.note else ""
    return f"<table><caption>{html.escape(table.title)}</caption><tr>{head}</tr>{body}</table>{note}"


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _section(section: Section) -> str:
    parts = [f"<h3>{html.escape(section.title)}</h3>"]
    parts += [f"<p>{html.escape(p)}</p>" for p in section.paragraphs]
    parts += [_table(t) for t in section.tables]
    for figure in section.figures:
        if Path(figure.path).is_file():
            parts.append(f"<figure>{_image(figure.path, figure.caption)}<figcaption>{html.escape(figure.caption)}"
                         "</figcaption></figure>")
        else:
            parts.append(f'<p class="error">figure missing: {html.escape(str(figure.path))}</p>')
    return "\n".join(parts)


def write_report(out_dir: Path, results: Sequence[SuiteResult], errors: dict[str, str], config_yaml: str,
                 version: str, title: str = "plumetwin validation report") -> dict[str, Path]:
    """Write ``report.html`` and ``scores.json`` into ``out_dir``.

    ``errors``: suites that could not be imported or raised, by name, with their message; they
    appear as failures in the summary. Returns ``{"html": path, "json": path}``.
    """
    out_dir = Path(out_dir)
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    summary_rows = "".join(f"<tr><td>{html.escape(r.name)}</td><td>{_verdict(r.passed)}</td></tr>" for r in results)
    summary_rows += "".join(f'<tr><td>{html.escape(name)}</td><td><span class="fail">ERROR</span> '
                            f'<span class="error">{html.escape(message)}</span></td></tr>'
                            for name, message in errors.items())
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             f'<p class="note">plumetwin {html.escape(version)} · {date}</p>',
             "<h2>Summary</h2>", f"<table><tr><th>suite</th><th>result</th></tr>{summary_rows}</table>"]
    for result in results:
        parts.append(f"<h2>{html.escape(result.name)} {_verdict(result.passed)}</h2>")
        parts += [_section(s) for s in result.sections]
    parts += ["<h2>Configuration</h2>", f"<pre>{html.escape(config_yaml)}</pre>", "</body></html>"]
    html_path = atomic_write_text(out_dir / "report.html", "\n".join(parts))
    scores = {"version": version, "date": date,
              "suites": {r.name: {"passed": r.passed, "scores": r.scores} for r in results},
              "errors": errors}
    json_path = atomic_write_text(out_dir / "scores.json", json.dumps(json_ready(scores), indent=2, allow_nan=False)
                                  + "\n")
    return {"html": html_path, "json": json_path}
