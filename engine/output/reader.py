"""Reading a run file back: arrays with their dimensions, coordinates and units.

Values are read into host memory when asked for (one species at a time); conversions to other
concentration units happen here, at the edge, with the molar mass stored in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..errors import PlumetwinError
from ..units import convert_concentration


class RunFileError(PlumetwinError, OSError):
    """A run file is missing, unfinished or lacks what was asked for; the message says which."""


@dataclass(frozen=True)
class Field:
    """An array with named dimensions, coordinates and units.

    Attributes
    ----------
    values:
        The data (host array).
    dims:
        Dimension names, one per axis of ``values`` (e.g. ``("time", "member", "z", "y", "x")``).
    coords:
        Coordinate arrays by name: ``time`` (s), ``x``/``y`` (projected m), ``z`` (m above the
        domain bottom), ``level`` (level indices), ``member``, ``receptor`` (names)...
    units:
        Units of ``values`` (e.g. ``"kg/m3"``).
    """

    values: np.ndarray
    dims: tuple[str, ...]
    coords: dict[str, np.ndarray] = field(default_factory=dict)
    units: str = "kg/m3"

    def __post_init__(self) -> None:
        if len(self.dims) != np.ndim(self.values):
            raise ValueError(f"{len(self.dims)} dims {self.dims} for an array of {np.ndim(self.values)} axes")

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def _axis(self, dim: str) -> int:
        if dim not in self.dims:
            raise KeyError(f"no dimension {dim!r}; this field has {', '.join(self.dims)}")
        return self.dims.index(dim)

    def _without(self, dim: str, values: np.ndarray) -> "Field":
        axis = self._axis(dim)
        # Coordinates along the removed axis (z with level, receptor with x/y/z...) go with it.
        along = {"z": ("z", "level"), "receptor": ("receptor", "x", "y", "z")}.get(dim, (dim,))
        coords = {k: v for k, v in self.coords.items() if k not in along}
        return Field(values, self.dims[:axis] + self.dims[axis + 1:], coords, self.units)

    def ground(self) -> "Field":
        """The lowest written level (index 0 along ``z``; level 0 when all levels were written)."""
        axis = self._axis("z")
        out = self._without("z", np.take(self.values, 0, axis=axis))
        coords = dict(out.coords)
        if "z" in self.coords:
            coords["height"] = np.asarray(self.coords["z"][0])
        return Field(out.values, out.dims, coords, out.units)

    def max_over_time(self) -> "Field":
        """The maximum over the ``time`` axis."""
        return self._without("time", self.values.max(axis=self._axis("time")))

    def mean_over_time(self) -> "Field":
        """The mean over the ``time`` axis (of the written records, equally weighted)."""
        return self._without("time", self.values.mean(axis=self._axis("time")))

    def last(self) -> "Field":
        """The last record in time."""
        return self._without("time", np.take(self.values, -1, axis=self._axis("time")))


def texts(values) -> list[str]:
    """HDF5 string attributes (bytes or str) as a list of ``str``."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


class RunResult:
    """A run file opened for reading. Use as a context manager, or call :meth:`close`.

    Parameters
    ----------
    path:
        A finished run file (``.h5``); an unfinished ``.part`` file can be opened by its own name.

    Raises
    ------
    RunFileError
        If the file does not exist or is not a plumetwin run file.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            part = self.path.with_name(self.path.name + ".part")
            hint = (f"; an unfinished run left {part}: resume it from its checkpoint, or open the .part file"
                    if part.exists() else "")
            raise RunFileError(f"run file {self.path} does not exist{hint}")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise RunFileError(f"cannot open run file {self.path} as HDF5: {exc}") from exc
        if "species" not in self._file.attrs or "grid" not in self._file:
            self._file.close()
            raise RunFileError(f"{self.path} is an HDF5 file but not a plumetwin run file (no species or grid)")

    def __enter__(self) -> "RunResult":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._file.id.valid:
            self._file.close()

    # --- metadata ----------------------------------------------------------------------------
    @property
    def attrs(self) -> dict:
        """Root attributes (version, config, backend, dtype, run statistics...)."""
        return {k: (texts(v) if isinstance(v, np.ndarray) and v.dtype.kind == "O" else v)
                for k, v in self._file.attrs.items()}

    @property
    def species(self) -> list[str]:
        """Names of the transported species."""
        return texts(self._file.attrs["species"])

    @property
    def members(self) -> int:
        return int(self._file.attrs["members"])

    @property
    def config(self) -> str:
        """The resolved configuration the run was made with (YAML text)."""
        return str(self._file.attrs.get("config", ""))

    @property
    def version(self) -> str:
        """plumetwin version that wrote the file."""
        return str(self._file.attrs["plumetwin_version"])

    @property
    def times(self) -> np.ndarray:
        """Field output times (s)."""
        return self._file["time"][...]

    @property
    def grid(self) -> dict:
        """Cell centres ``x, y, z`` and faces (m), ``solid`` (bool, z y x), ``crs``, ``origin``, ``dx``, ``dy``."""
        g = self._file["grid"]
        out: dict = {name: g[name][...] for name in g}
        out["solid"] = out["solid"].astype(bool)
        out.update({"crs": str(g.attrs["crs"]), "origin": tuple(float(v) for v in g.attrs["origin"]),
                    "dx": float(g.attrs["dx"]), "dy": float(g.attrs["dy"])})
        return out

    def sources(self) -> dict[str, np.ndarray]:
        """The source table: ``name``, ``kind``, ``x``, ``y``, ``height`` (m; NaN where none), ``rate``."""
        g = self._file["sources"]
        return {name: (g[name].asstr()[...] if g[name].dtype.kind == "O" else g[name][...]) for name in g}

    def _molar_mass(self, species: str) -> float | None:
        value = float(self._file[f"species/{species}"].attrs.get("molar_mass", np.nan))
        return None if np.isnan(value) else value

    def _check_species(self, species: str) -> None:
        if species not in self.species:
            raise RunFileError(f"{self.path} has no species {species!r}; it holds {', '.join(self.species)}")

    # --- data --------------------------------------------------------------------------------
    def concentration(self, species: str, units: str = "kg/m3", member: int | None = None) -> Field:
        """3D fields of ``species``.

        Parameters
        ----------
        species:
            A transported species with field output.
        units:
            Concentration units of the result (see :func:`engine.units.convert_concentration`).
        member:
            One ensemble member (its axis is dropped), or None for all.

        Returns
        -------
        Field
            dims ``(time, member, z, y, x)``, or ``(time, z, y, x)`` for one member; coords
            ``time, member, z, level, y, x``.
        """
        self._check_species(species)
        key = f"species/{species}/concentration"
        if key not in self._file:
            raise RunFileError(f"{self.path} holds no 3D fields of {species} (fields were written for "
                               f"{', '.join(self.field_species) or 'no species'})")
        dataset = self._file[key]
        if member is not None and not 0 <= member < dataset.shape[1]:
            raise RunFileError(f"{self.path} has members 0..{dataset.shape[1] - 1}, not {member}")
        values = dataset[:, member] if member is not None else dataset[...]
        values = convert_concentration(values, "kg/m3", units, self._molar_mass(species))
        times = self._file["time"][...]
        coords = {"time": times[: values.shape[0]], "z": np.asarray(dataset.attrs["z"]),
                  "level": np.asarray(dataset.attrs["levels"]), "y": self._file["grid/y"][...],
                  "x": self._file["grid/x"][...]}
        if member is None:
            coords["member"] = np.arange(values.shape[1])
            dims: tuple[str, ...] = ("time", "member", "z", "y", "x")
        else:
            dims = ("time", "z", "y", "x")
        return Field(values, dims, coords, units)

    def receptors(self, species: str, units: str = "kg/m3") -> Field:
        """Receptor series of ``species``: dims ``(time, member, receptor)``, coords ``time`` (s),
        ``member``, ``receptor`` (names) and the receptors' ``x``, ``y``, ``z`` (m)."""
        self._check_species(species)
        key = f"receptors/concentration/{species}"
        if key not in self._file:
            raise RunFileError(f"{self.path} holds no receptor series (no receptors were configured)")
        g = self._file["receptors"]
        values = convert_concentration(self._file[key][...], "kg/m3", units, self._molar_mass(species))
        coords = {"time": g["time"][...], "member": np.arange(values.shape[1]),
                  "receptor": g["name"].asstr()[...], "x": g["x"][...], "y": g["y"][...], "z": g["z"][...]}
        return Field(values, ("time", "member", "receptor"), coords, units)

    @property
    def field_species(self) -> list[str]:
        """Species whose 3D fields were written."""
        return [s for s in self.species if f"species/{s}/concentration" in self._file]

    @property
    def has_receptors(self) -> bool:
        return "receptors/name" in self._file

    def budget(self) -> dict[str, np.ndarray]:
        """Mass budget (kg) per member and species: emitted, inside, outflow, deposited, decayed, residual."""
        if not np.isfinite(self._file.attrs.get("finished_unix_s", np.nan)):
            raise RunFileError(f"{self.path} has no budget: the run did not finish (budgets are written at the end)")
        return {name: d[...] for name, d in self._file["budget"].items()}


def open_run(path: str | Path) -> RunResult:
    """Open a run file for reading (also a context manager).

    Raises
    ------
    RunFileError
        If the file does not exist (naming it, and an unfinished ``.part`` file beside it if any).
    """
    return RunResult(path)
