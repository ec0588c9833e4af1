"""Typed schemas of the ``run`` task's configuration, registered in Hydra's ConfigStore.

The primary config ``conf/run.yaml`` lists ``run_schema`` first in its defaults, so every value
composed on top of it is checked against these dataclasses: an unknown key or a value of the
wrong type fails at composition, with Hydra's message naming the key. Value *ranges* (positive
spacings, sources inside the domain...) are checked by :mod:`engine.app.build`, which can see the
whole configuration at once.

Units are the ones people use at the edge (m, m/s, degrees from north, g/s...); everything is
converted to SI (m, s, kg, kg/m³) when the engine objects are built. Positions are projected
coordinates (m) in the grid's CRS, like ``origin_x`` and ``origin_y``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

# ``Optional``/``List``/``Dict`` rather than ``X | None``/``list[X]``: OmegaConf 2.3 reads the
# annotations at run time and does not understand the PEP 604/585 forms on Python 3.10.


@dataclass
class BuildingConfig:
    """A box-shaped building standing on the ground (projected metres; height in m)."""

    name: str = MISSING
    x_min: float = MISSING
    x_max: float = MISSING
    y_min: float = MISSING
    y_max: float = MISSING
    height: float = MISSING


@dataclass
class GridConfig:
    """The computational grid.

    ``nx``/``ny``/``nz`` cells; horizontal spacing ``dx``/``dy`` (m); the lowest layer is
    ``dz_bottom`` m thick and each layer above is ``stretch`` times thicker (1 = uniform).
    ``origin_x``/``origin_y`` are the projected coordinates (m, ``crs``) of the south-west corner.
    ``closed_boundaries`` lists sides (west, east, south, north, top) with no flow through them.
    ``buildings`` are boxes; ``buildings_file`` adds footprints from a GeoJSON (polygons with a
    ``height`` property, m) or a CSV of boxes; ``terrain_file`` is an ESRI ASCII grid of ground
    height (m above the domain floor) for step terrain. Relative paths are from the working directory.
    """

    nx: int = MISSING
    ny: int = MISSING
    nz: int = MISSING
    dx: float = MISSING
    dy: float = MISSING
    dz_bottom: float = MISSING
    stretch: float = 1.0
    origin_x: float = 0.0
    origin_y: float = 0.0
    crs: str = "EPSG:5186"
    buildings: List[BuildingConfig] = field(default_factory=list)
    buildings_file: Optional[str] = None
    terrain_file: Optional[str] = None
    closed_boundaries: List[str] = field(default_factory=list)


@dataclass
class DiffusivityConfig:
    """Eddy diffusivity: ``constant`` (``kh``, ``kz`` in m²/s) or from the ``stability`` class
    (Monin–Obukhov profile below ``mixing_height`` m; None takes a default per class)."""

    kind: str = "stability"
    kh: float = 5.0
    kz: float = 1.0
    mixing_height: Optional[float] = None


@dataclass
class MemberConfig:
    """One ensemble member: overrides of the base wind speed (m/s) and direction (deg)."""

    speed: Optional[float] = None
    direction: Optional[float] = None


@dataclass
class MetConfig:
    """A horizontally uniform wind and its turbulence.

    ``profile`` is ``uniform``, ``log``, ``power`` or ``similarity`` (Monin–Obukhov); ``speed`` (m/s) is given at
    ``reference_height`` (m), ``direction`` is where the wind blows from (degrees clockwise from
    north). ``exponent`` of the power law (None: from ``stability`` A–F and ``terrain``
    urban|rural). ``similarity`` profiles and stability diffusivities use ``obukhov_length`` (m;
    None: Golder's from ``stability`` and ``roughness_length``). ``temperature`` (K) is the ambient
    air's, for plume rise. ``wind_model`` is ``profile`` (the profile everywhere, cut by solids) or
    ``mass_consistent`` (adjusted around buildings to zero divergence, Sherman's method, with the
    vertical weight ``(α₁/α₂)²`` = ``vertical_weight``; with ``building_zones`` the initial wind first gets
    each building's upwind displacement zone, lee cavity and far wake, Röckle's method as in QUIC-URB). ``rain_rate`` (mm/h) drives wet scavenging. ``record`` names a weather-station CSV
    (:mod:`engine.meteorology.records`) whose hours replace ``speed``, ``direction``,
    ``stability``, ``temperature``, the mixing height and the rain rate; ``latitude``/``longitude`` (degrees, the
    Sinpyeong-Jangnim complex by default) place the sun for Turner's method. ``members``: one
    ensemble member per entry (None: a single member).
    """

    profile: str = "log"
    speed: float = MISSING
    direction: float = MISSING
    reference_height: float = 10.0
    roughness_length: float = 0.1
    exponent: Optional[float] = None
    stability: str = "D"
    terrain: str = "urban"
    temperature: float = 288.15
    obukhov_length: Optional[float] = None
    wind_model: str = "profile"
    vertical_weight: float = 1.0
    building_zones: bool = False
    record: Optional[str] = None
    rain_rate: float = 0.0
    latitude: float = 35.09
    longitude: float = 128.96
    diffusivity: DiffusivityConfig = field(default_factory=DiffusivityConfig)
    members: Optional[List[MemberConfig]] = None


@dataclass
class SpeciesConfig:
    """A transported species: molar mass (kg/mol; None for particles), first-order decay rate
    (1/s), dry deposition velocity (m/s), background concentration (kg/m³) and wet scavenging
    ``Λ = scavenging_coefficient · R^scavenging_exponent`` (1/s, R the rain rate in mm/h)."""

    name: str = MISSING
    molar_mass: Optional[float] = None
    decay_rate: float = 0.0
    deposition_velocity: float = 0.0
    background: float = 0.0
    scavenging_coefficient: float = 0.0
    scavenging_exponent: float = 0.64


@dataclass
class StackConfig:
    """Stack exit conditions for Briggs plume rise: inner ``diameter`` (m), ``exit_velocity``
    (m/s) and ``exit_temperature`` (K). All three or none (no plume rise)."""

    diameter: Optional[float] = None
    exit_velocity: Optional[float] = None
    exit_temperature: Optional[float] = None


@dataclass
class SourceConfig:
    """An emission source.

    ``kind``: ``point`` (a stack at ``x``, ``y``: with ``stack`` exit conditions, ``height`` is the
    stack's and Briggs plume rise in the run's met is added; without, ``height`` is the effective
    release height, m), ``area`` (rectangle ``x_min``..``y_max`` at ``height``), ``volume`` (box
    ``x_min``..``z_max``) or ``puff`` (instantaneous release at ``start`` s).
    ``emissions`` maps species to rates in ``unit`` (kg/s, g/s, kg/h, t/yr; default g/s) or, for
    a puff, to masses (kg or g; default kg). Emission from ``start`` to ``stop`` s (None: the end),
    optionally scaled by the step-wise ``profile_factors`` from ``profile_times`` (s).
    """

    name: str = MISSING
    kind: str = "point"
    x: Optional[float] = None
    y: Optional[float] = None
    height: Optional[float] = None
    x_min: Optional[float] = None
    x_max: Optional[float] = None
    y_min: Optional[float] = None
    y_max: Optional[float] = None
    z_min: Optional[float] = None
    z_max: Optional[float] = None
    emissions: Dict[str, float] = field(default_factory=dict)
    unit: Optional[str] = None
    start: float = 0.0
    stop: Optional[float] = None
    profile_times: Optional[List[float]] = None
    profile_factors: Optional[List[float]] = None
    stack: StackConfig = field(default_factory=StackConfig)


@dataclass
class ReceptorConfig:
    """A point where concentrations are recorded as time series (projected m; z above ground)."""

    name: str = MISSING
    x: float = MISSING
    y: float = MISSING
    z: float = 1.5


@dataclass
class BackendConfig:
    """Array backend (``auto``, ``numpy``, ``numba``, ``cupy``) and precision (float32|float64)."""

    name: str = "auto"
    dtype: str = "float32"


@dataclass
class OutputConfig:
    """What is written, and how often.

    ``dir``: where results go (None: the Hydra run directory). Fields every ``field_interval`` s
    (only ``field_levels`` / ``field_species`` when given), receptor series every
    ``receptor_interval`` s. The ground map shows ``map_species`` (None: the first species)
    reduced over time by ``map_statistic`` in ``map_units``. A checkpoint every
    ``checkpoint_every`` iterations and a NaN check every ``nan_check_every`` (0 = off).
    ``vtk``: also write the map species' 3D field (same statistic), the solid mask and the wind
    as ``<name>_scene.vtr`` for ParaView (needs every level written). ``render``: a 3D off-screen
    render ``<name>_scene.png`` with PyVista: ``auto`` when PyVista, an off-screen GL library and
    every level are there (else a log line says why not), ``true`` (an error otherwise), ``false``.
    """

    dir: Optional[str] = None
    field_interval: float = 600.0
    receptor_interval: float = 60.0
    field_levels: Optional[List[int]] = None
    field_species: Optional[List[str]] = None
    map_species: Optional[str] = None
    map_statistic: str = "max"
    map_units: str = "ug/m3"
    checkpoint_every: int = 0
    nan_check_every: int = 20
    progress: bool = True
    vtk: bool = False
    render: str = "false"


@dataclass
class TimeConfig:
    """Run length ``stop`` (s); a fixed step ``dt`` (s) or None for adaptive steps at Courant
    number ``cfl`` in (0, 1], never longer than ``max_dt`` (s)."""

    stop: float = MISSING
    dt: Optional[float] = None
    cfl: float = 0.8
    max_dt: float = math.inf


@dataclass
class RunConfig:
    """The ``run`` task: one scenario, run once.

    ``name`` names the result files; ``limiter`` is the advection flux limiter (mc, vanleer,
    minmod, superbee, upwind); ``vertical_diffusion`` is ``auto`` (explicit where the step is well
    inside its limit), ``implicit`` or ``explicit``; ``resume`` names a checkpoint file to continue
    from.
    """

    name: str = MISSING
    limiter: str = "mc"
    vertical_diffusion: str = "auto"
    grid: GridConfig = MISSING
    met: MetConfig = MISSING
    species: List[SpeciesConfig] = MISSING
    sources: List[SourceConfig] = field(default_factory=list)
    receptors: List[ReceptorConfig] = field(default_factory=list)
    backend: BackendConfig = field(default_factory=BackendConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    time: TimeConfig = field(default_factory=TimeConfig)
    resume: Optional[str] = None


def register_schemas() -> None:
    """Store the schemas in Hydra's ConfigStore (idempotent: storing again replaces)."""
    store = ConfigStore.instance()
    store.store(name="run_schema", node=RunConfig)


register_schemas()
