"""Reading a run file back: arrays with their coordinates and units."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..errors import PlumetwinError
from ..units import convert_concentration


class RunFileError(PlumetwinError, OSError):
    """A run file is missing, unfinished or lacks what was asked for."""


@dataclass(frozen=True)
class Field:
    """An array with named dimensions, coordinates (host arrays) and units."""

    values: np.ndarray
    dims: tuple[str, ...]
    coords: dict[str, np.ndarray] = field(default_factory=dict)
    units: str = "kg/m3"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def _reduce(self, dim: str, values: np.ndarray) -> "Field":
        axis = self.dims.index(dim)
        coords = {k: v for k, v in self.coords.items() if k != dim}
        return Field(values, self.dims[:axis] + self.dims[axis + 1:], coords, self.units)

    def ground(self) -> "Field":
        """The lowest written level (index 0 along ``z``)."""
        axis = self.dims.index("z")
        return self._reduce("z", np.take(self.values, 0, axis=axis))

    def max_over_time(self) -> "Field":
        return self._reduce("time", self.values.max(axis=self.dims.index("time")))

    def mean_over_time(self) -> "Field":
        return self._reduce("time", self.values.mean(axis=self.dims.index("time")))


class RunResult:
    """An open run file. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            part = self.path.with_name(self.path.name + ".part")
            hint = f" (an unfinished run left {part}; resume it from its checkpoint)" if part.exists() else ""
            raise RunFileError(f"run file {self.path} does not exist{hint}")
        self._file = h5py.File(self.path, "r")

    def __enter__(self) -> "RunResult":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    # --- metadata ----------------------------------------------------------------------------
    @property
    def attrs(self) -> dict:
        return dict(self._file.attrs)

    @property
    def species(self) -> list[str]:
        return [s.decode() if isinstance(s, bytes) else str(s) for s in self._file.attrs["species"]]

    @property
    def members(self) -> int:
        return int(self._file.attrs["members"])

    @property
    def config(self) -> str:
        return str(self._file.attrs.get("config", ""))

    @property
    def version(self) -> str:
        return str(self._file.attrs["plumetwin_version"])

    @property
    def times(self) -> np.ndarray:
        """Field output times (s)."""
        return self._file["time"][...]

    @property
    def grid(self) -> dict:
        g = self._file["grid"]
        out = {name: g[name][...] for name in g}
        out.update({"crs": str(g.attrs["crs"]), "origin": tuple(g.attrs["origin"]),
                    "dx": float(g.attrs["dx"]), "dy": float(g.attrs["dy"])})
        out["solid"] = out["solid"].astype(bool)
        return out

    def sources(self) -> dict[str, np.ndarray]:
        g = self._file["sources"]
        return {name: g[name].asstr()[...] if g[name].dtype.kind == "O" else g[name][...] for name in g}

    def _molar_mass(self, species: str) -> float | None:
        value = float(self._file[f"species/{species}"].attrs["molar_mass"])
        return None if np.isnan(value) else value

    def _check_species(self, species: str) -> None:
        if species not in self.species:
            raise RunFileError(f"{self.path} has no species {species!r}; it holds {', '.join(self.species)}")

    # --- data --------------------------------------------------------------------------------
    def concentration(self, species: str, units: str = "kg/m3", member: int | None = None) -> Field:
        """3D fields of ``species``: dims (time, member, z, y, x), or without ``member`` if one is chosen."""
        self._check_species(species)
        key = f"species/{species}/concentration"
        if key not in self._file:
            raise RunFileError(f"{self.path} holds no 3D fields of {species} (field output was off)")
        dataset = self._file[key]
        values = dataset[:, member] if member is not None else dataset[...]
        values = convert_concentration(values, "kg/m3", units, self._molar_mass(species))
        coords = {"time": self.times, "z": np.asarray(dataset.attrs["z"]), "y": self._file["grid/y"][...],
                  "x": self._file["grid/x"][...], "level": np.asarray(dataset.attrs["levels"])}
        dims = ("time", "z", "y", "x") if member is not None else ("time", "member", "z", "y", "x")
        if member is None:
            coords["member"] = np.arange(values.shape[1])
        return Field(values, dims, coords, units)

    def receptors(self, species: str, units: str = "kg/m3") -> Field:
        """Receptor series of ``species``: dims (time, member, receptor)."""
        self._check_species(species)
        key = f"receptors/concentration/{species}"
        if key not in self._file:
            raise RunFileError(f"{self.path} holds no receptor series (no receptors were configured)")
        g = self._file["receptors"]
        values = convert_concentration(self._file[key][...], "kg/m3", units, self._molar_mass(species))
        coords = {"time": g["time"][...], "member": np.arange(values.shape[1]),
                  "receptor": g["name"].asstr()[...], "x": g["x"][...], "y": g["y"][...], "z": g["z"][...]}
        return Field(values, ("time", "member", "receptor"), coords, units)

    def budget(self) -> dict[str, np.ndarray]:
        """Mass budget (kg) per member and species."""
        return {name: d[...] for name, d in self._file["budget"].items()}


def open_run(path: str | Path) -> RunResult:
    """Open a finished run file for reading."""
    return RunResult(path)
