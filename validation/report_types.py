"""The pieces every validation suite hands to the report: tables, figures, sections and scores.

A suite (analytic verification, Prairie Grass, sensor records, ...) is a function
``run_suite(options: Mapping, out_dir: Path, backend: str) -> SuiteResult``. The ``validate`` task
collects the results, writes every ``scores`` dict into one JSON file and every section into one
self-contained HTML report; the suites themselves know nothing about HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Table:
    """A table for the report: column names and rows of plain values (numbers are formatted by the report)."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""


@dataclass
class Figure:
    """A PNG written by a suite, embedded in the report with its caption."""

    path: Path
    caption: str


@dataclass
class Section:
    """One titled part of the report: paragraphs of text, then tables, then figures."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


@dataclass
class SuiteResult:
    """What one suite returns.

    ``scores``: JSON-serialisable nested dict of every number the suite computed (the machine-readable
    record); ``passed``: whether the suite's own acceptance criteria hold (``None`` where it has none);
    ``sections``: what the HTML report shows.
    """

    name: str
    scores: dict[str, Any]
    sections: list[Section]
    passed: bool | None = None
