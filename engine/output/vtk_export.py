"""A run's 3D scene as a VTK XML rectilinear grid (``.vtr``) that ParaView opens.

Rectilinear rather than image data because the vertical levels may be stretched. Written with
NumPy alone (no VTK needed to write it): binary arrays inline, base64-encoded behind a UInt64
byte count, little-endian, as the VTK XML file format specifies. Cell data: the concentration
(named after its species, in the scene's units), ``solid`` (1 in buildings and terrain) and,
when the scene has it, the ``wind`` vector (m/s) at cell centres, ready for ParaView's
streamline filter.

Reference: VTK User's Guide, "VTK File Formats", XML formats (kitware.com/vtk-file-formats).
"""

from __future__ import annotations

import base64
import sys
from html import escape
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from .scene import Scene

_VTK_TYPES = {np.dtype("float32"): "Float32", np.dtype("float64"): "Float64", np.dtype("uint8"): "UInt8"}


def _attribute(value: str) -> str:
    """A quoted XML attribute value (species names are the user's)."""
    return '"' + escape(value, quote=True) + '"'


def _data_array(name: str, values: np.ndarray, components: int = 1) -> str:
    """One ``<DataArray>`` element with base64 inline binary data."""
    data = np.ascontiguousarray(values)
    if data.dtype.byteorder == ">" or (data.dtype.byteorder == "=" and sys.byteorder == "big"):
        data = data.byteswap().view(data.dtype.newbyteorder("<"))
    payload = np.uint64(data.nbytes).tobytes() + data.tobytes()
    encoded = base64.b64encode(payload).decode("ascii")
    kind = _VTK_TYPES[np.dtype(data.dtype.str.lstrip("<>=|"))]
    extra = f' NumberOfComponents="{components}"' if components > 1 else ""
    return f'<DataArray type="{kind}" Name={_attribute(name)}{extra} format="binary">{encoded}</DataArray>'


def write_vtr(scene: Scene, path: str | Path) -> Path:
    """Write ``scene`` to ``path`` (``.vtr``), atomically; returns the path.

    Coordinates are projected easting/northing (m) and height above the domain floor (m).
    """
    nz, ny, nx = scene.shape
    extent = f"0 {nx} 0 {ny} 0 {nz}"
    species = scene.species
    cell_arrays = [_data_array(species, scene.concentration.astype(np.float32).ravel()),
                   _data_array("solid", scene.solid.astype(np.uint8).ravel())]
    vectors = ""
    if scene.wind is not None:
        # VTK wants the components of each cell together: (nz, ny, nx, 3), x varying fastest.
        cell_arrays.append(_data_array("wind", np.moveaxis(scene.wind, 0, -1).astype(np.float32).ravel(), 3))
        vectors = ' Vectors="wind"'
    coordinates = [_data_array(axis, np.asarray(faces, dtype=np.float64))
                   for axis, faces in (("x", scene.x_faces), ("y", scene.y_faces), ("z", scene.z_faces))]
    text = "\n".join([
        '<?xml version="1.0"?>',
        f"<!-- plumetwin scene: {escape(species)} {scene.statistic} over the run [{scene.units}]; "
        f"x/y projected m ({scene.crs}), z m above the domain floor -->",
        '<VTKFile type="RectilinearGrid" version="1.0" byte_order="LittleEndian" header_type="UInt64">',
        f'<RectilinearGrid WholeExtent="{extent}">',
        f'<Piece Extent="{extent}">',
        f"<CellData Scalars={_attribute(species)}{vectors}>", *cell_arrays, "</CellData>",
        "<Coordinates>", *coordinates, "</Coordinates>",
        "</Piece>", "</RectilinearGrid>", "</VTKFile>", "",
    ])
    path = Path(path)
    with atomic_path(path, durable=False) as tmp:
        Path(tmp).write_text(text, encoding="ascii")
    return path
