"""Ensemble members as perturbation dicts: sampled designs and hours of a recorded weather period.

A member is a plain ``dict`` (a value, so members can be stored, compared and passed between
tasks). Every key is optional; a missing key means "as in the base scenario":

``direction`` (deg, absolute), ``speed`` (m/s, absolute), ``stability`` (A–F),
``mixing_height`` (m), ``temperature`` (K)
    Weather that replaces the base weather (one hour of a record sets these).
``direction_offset`` (deg), ``speed_factor`` (–)
    Applied on top: ``direction = (direction or base) + direction_offset``,
    ``speed = (speed or base) * speed_factor``.
``emission_factor`` (–)
    Multiplies every source's rates.
``source_factors`` ({source: {species: factor}})
    Multiplies one source's rate of one species (retrofits, :mod:`scenarios.retrofit`).
``release_dx``, ``release_dy`` (m), ``release_delay`` (s)
    Moves the released sources (``spec["release"]["sources"]``, all when absent) and delays
    their start and stop.
``label`` (str)
    A name for tables and plots (a record hour's timestamp).

:func:`sample_members` draws members from a perturbation ``spec`` by seeded random, Latin
hypercube or Sobol design; :func:`record_members` makes one member per hour (or every
``every_hours``) of a met record.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from scipy.stats import norm, qmc

from engine.errors import ConfigError
from engine.meteorology.records import read_met_record

METHODS = ("random", "lhs", "sobol")
STABILITY_CLASSES = ("A", "B", "C", "D", "E", "F")
#: Unit-cube coordinates are kept this far inside (0, 1) so inverse normal CDFs stay finite
#: (an unscrambled Sobol sequence starts at exactly 0).
_EDGE = 1e-9

SPEC_KEYS = ("direction_sd", "speed_sigma", "emission_sigma", "stability", "release")


def _number(spec: Mapping[str, Any], key: str, where: str, minimum: float = 0.0) -> float:
    value = spec.get(key) or 0.0
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}.{key}", f"{value!r} is not a number") from None
    if not (math.isfinite(value) and value >= minimum):
        raise ConfigError(f"{where}.{key}", f"must be a finite number >= {minimum:g}, got {value:g}")
    return value


def _stability(spec: Mapping[str, Any], where: str) -> dict | None:
    """Classes and probabilities of the stability draw: ``{"classes": [...], "weights": [...]}``."""
    block = spec.get("stability")
    if not block:
        return None
    classes = [str(c).upper() for c in block.get("classes") or []]
    unknown = [c for c in classes if c not in STABILITY_CLASSES]
    if not classes or unknown:
        raise ConfigError(f"{where}.stability.classes", f"list Pasquill–Gifford classes A–F, got {classes}")
    weights = block.get("weights")
    weights = np.ones(len(classes)) if weights is None else np.asarray(weights, dtype=float)
    if weights.shape != (len(classes),) or np.any(weights < 0) or not weights.sum() > 0:
        raise ConfigError(f"{where}.stability.weights", f"give {len(classes)} non-negative weights, "
                                                        f"not all zero, one per class")
    return {"classes": classes, "weights": [float(w) for w in weights / weights.sum()]}


def check_spec(spec: Mapping[str, Any] | None, where: str = "ensemble.perturbations") -> dict:
    """The perturbation spec with defaults, checked (unknown keys are refused by name).

    ``direction_sd`` (deg): standard deviation of a normal direction offset. ``speed_sigma`` and
    ``emission_sigma``: σ of ln(factor), a log-normal factor with median 1. ``stability``:
    ``{classes: [C, D, E], weights: [1, 2, 1]}``. ``release``: ``{sources: [...], position_sd: m,
    time_spread: s}`` (normal x/y offsets; a delay uniform in [0, time_spread]).
    """
    spec = dict(spec or {})
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}", f"unknown perturbation; use {', '.join(SPEC_KEYS)}")
    release = dict(spec.get("release") or {})
    bad = sorted(set(release) - {"sources", "position_sd", "time_spread"})
    if bad:
        raise ConfigError(f"{where}.release.{bad[0]}", "unknown; use sources, position_sd, time_spread")
    return {
        "direction_sd": _number(spec, "direction_sd", where),
        "speed_sigma": _number(spec, "speed_sigma", where),
        "emission_sigma": _number(spec, "emission_sigma", where),
        "stability": _stability(spec, where),
        "release": {"sources": release.get("sources"),
                    "position_sd": _number(release, "position_sd", f"{where}.release"),
                    "time_spread": _number(release, "time_spread", f"{where}.release")},
    }


def unit_design(n: int, dimensions: int, method: str, seed: int | None) -> np.ndarray:
    """``(n, dimensions)`` points in the open unit cube by ``random``, ``lhs`` or ``sobol`` design.

    Sobol points balance best when ``n`` is a power of two; other ``n`` are allowed (SciPy's
    balance warning is silenced here because members are not used for integration weights).
    """
    if n < 1:
        raise ConfigError("ensemble.members", f"must be >= 1, got {n}")
    if method not in METHODS:
        raise ConfigError("ensemble.method", f"unknown sampling method {method!r}; use {', '.join(METHODS)} or record")
    if dimensions == 0:
        return np.zeros((n, 0))
    if method == "random":
        points = np.random.default_rng(seed).random((n, dimensions))
    else:
        engine = qmc.LatinHypercube if method == "lhs" else qmc.Sobol
        try:
            sampler = engine(d=dimensions, rng=np.random.default_rng(seed))
        except TypeError:  # SciPy < 1.15 names the generator `seed`
            sampler = engine(d=dimensions, seed=np.random.default_rng(seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            points = sampler.random(n)
    return np.clip(points, _EDGE, 1 - _EDGE)


def members_from_unit(points: np.ndarray, spec: Mapping[str, Any]) -> list[dict]:
    """Map unit-cube points to members through each perturbation's inverse CDF.

    The dimensions are used in this order, each only when its perturbation is on: direction,
    speed, emission, stability, release x, release y, release delay.
    """
    spec = check_spec(spec)
    members: list[dict] = [{} for _ in range(points.shape[0])]
    column = 0

    def take() -> np.ndarray:
        nonlocal column
        if column >= points.shape[1]:
            raise ConfigError("ensemble.perturbations", f"needs more than {points.shape[1]} design dimensions")
        column += 1
        return points[:, column - 1]

    if spec["direction_sd"] > 0:
        for member, z in zip(members, norm.ppf(take())):
            member["direction_offset"] = float(spec["direction_sd"] * z)
    if spec["speed_sigma"] > 0:
        for member, z in zip(members, norm.ppf(take())):
            member["speed_factor"] = float(math.exp(spec["speed_sigma"] * z))
    if spec["emission_sigma"] > 0:
        for member, z in zip(members, norm.ppf(take())):
            member["emission_factor"] = float(math.exp(spec["emission_sigma"] * z))
    if spec["stability"] is not None:
        classes = spec["stability"]["classes"]
        edges = np.cumsum(spec["stability"]["weights"])
        for member, u in zip(members, take()):
            member["stability"] = classes[min(int(np.searchsorted(edges, u, side="right")), len(classes) - 1)]
    release = spec["release"]
    if release["position_sd"] > 0:
        for axis in ("release_dx", "release_dy"):
            for member, z in zip(members, norm.ppf(take())):
                member[axis] = float(release["position_sd"] * z)
    if release["time_spread"] > 0:
        for member, u in zip(members, take()):
            member["release_delay"] = float(release["time_spread"] * u)
    return members


def dimensions(spec: Mapping[str, Any]) -> int:
    """Number of design dimensions the spec's perturbations need."""
    spec = check_spec(spec)
    release = spec["release"]
    return (int(spec["direction_sd"] > 0) + int(spec["speed_sigma"] > 0) + int(spec["emission_sigma"] > 0)
            + int(spec["stability"] is not None) + 2 * int(release["position_sd"] > 0)
            + int(release["time_spread"] > 0))


def sample_members(spec: Mapping[str, Any] | None, n: int, method: str = "lhs", seed: int | None = 0) -> list[dict]:
    """Draw ``n`` members from a perturbation spec.

    Parameters
    ----------
    spec:
        Perturbations (see :func:`check_spec`), e.g. ``{"direction_sd": 15, "speed_sigma": 0.3,
        "stability": {"classes": ["D", "E", "F"]}}``.
    n:
        Number of members.
    method:
        ``random`` (seeded i.i.d.), ``lhs`` (Latin hypercube) or ``sobol`` (scrambled Sobol).
    seed:
        Seed of the design: the same seed gives the same members.

    Returns
    -------
    list of dict
        One perturbation dict per member (keys as in the module docstring).
    """
    spec = check_spec(spec)
    points = unit_design(int(n), dimensions(spec), method, seed)
    members = members_from_unit(points, spec)
    for i, member in enumerate(members):
        member.setdefault("label", f"member {i}")
    return members


def record_members(path: str | Path, latitude: float = 35.09, longitude: float = 128.96, every_hours: int = 1,
                   first: int = 0, count: int | None = None) -> list[dict]:
    """One member per hour (or every ``every_hours``) of a met record (:mod:`engine.meteorology.records`).

    Each member carries the hour's speed, direction, stability, temperature and mixing height
    (when recorded) and a ``label`` with its timestamp; ``record_hour`` is the hour's offset (h)
    from the record's start, so members can be put back in time order.
    """
    if every_hours < 1:
        raise ConfigError("ensemble.record.every_hours", f"must be >= 1, got {every_hours}")
    records = read_met_record(path, latitude, longitude)
    chosen = records[first::every_hours]
    if count is not None:
        chosen = chosen[:count]
    if not chosen:
        raise ConfigError("ensemble.record", f"selects no hour of {Path(path).name} ({len(records)} records)")
    members = []
    for r in chosen:
        member = {"speed": r.wind_speed, "direction": r.wind_direction, "stability": r.stability,
                  "temperature": r.temperature, "label": r.timestamp.isoformat(), "record_hour": r.time / 3600.0}
        if r.mixing_height is not None:
            member["mixing_height"] = r.mixing_height
        members.append(member)
    return members


def member_weather(member: Mapping[str, Any], speed: float, direction: float, stability: str,
                   mixing_height: float | None, temperature: float) -> dict:
    """A member's weather from the base values: ``speed`` (m/s), ``direction`` (deg),
    ``stability``, ``mixing_height`` (m or None), ``temperature`` (K)."""
    speed = float(member.get("speed", speed)) * float(member.get("speed_factor", 1.0))
    direction = (float(member.get("direction", direction)) + float(member.get("direction_offset", 0.0))) % 360.0
    return {"speed": speed, "direction": direction, "stability": str(member.get("stability", stability)),
            "mixing_height": member.get("mixing_height", mixing_height),
            "temperature": float(member.get("temperature", temperature))}
