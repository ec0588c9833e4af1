"""Geographic ↔ projected coordinates for the Transverse Mercator CRSs used in Korea.

No external library is needed: the projection is Krüger's series to sixth order in the third
flattening ``n`` (Karney 2011), accurate to a few nanometres within 4000 km of the central
meridian. When pyproj is installed it is used for any other CRS; without it those CRSs are refused
with a message naming the supported ones.

References
----------
Karney, C. F. F. (2011). Transverse Mercator with an accuracy of a few nanometers. J. Geodesy 85,
475–485, equations 7, 9–11, 35–36.
Snyder, J. P. (1987). Map Projections — A Working Manual. USGS Professional Paper 1395, pp. 60–64
(worked example used in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import ConfigError

_GRS80 = (6378137.0, 1 / 298.257222101)
_WGS84 = (6378137.0, 1 / 298.257223563)


@dataclass(frozen=True)
class TransverseMercator:
    """A Transverse Mercator CRS: ellipsoid ``a`` (m) and flattening ``f``, natural origin
    ``lat0``/``lon0`` (degrees), scale ``k0`` and false easting/northing (m)."""

    a: float
    f: float
    lat0: float
    lon0: float
    k0: float
    false_easting: float
    false_northing: float

    @property
    def _series(self):
        return _coefficients(self.a, self.f)

    def _xi_eta(self, lat: np.ndarray, dlon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        _, e, alpha, _ = self._series
        phi, lam = np.radians(lat), np.radians(dlon)
        tau = np.sinh(np.arctanh(np.sin(phi)) - e * np.arctanh(e * np.sin(phi)))
        xi1 = np.arctan2(tau, np.cos(lam))
        eta1 = np.arcsinh(np.sin(lam) / np.sqrt(tau**2 + np.cos(lam) ** 2))
        xi, eta = xi1.copy(), eta1.copy()
        for j, coefficient in enumerate(alpha, start=1):
            xi += coefficient * np.sin(2 * j * xi1) * np.cosh(2 * j * eta1)
            eta += coefficient * np.cos(2 * j * xi1) * np.sinh(2 * j * eta1)
        return xi, eta

    def forward(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Projected ``x`` (easting) and ``y`` (northing) in m from longitude/latitude (degrees)."""
        lon, lat = np.asarray(lon, np.float64), np.asarray(lat, np.float64)
        big_a = self._series[0]
        xi, eta = self._xi_eta(lat, lon - self.lon0)
        xi0, _ = self._xi_eta(np.asarray(self.lat0, np.float64), np.asarray(0.0))
        x = self.false_easting + self.k0 * big_a * eta
        y = self.false_northing + self.k0 * big_a * (xi - xi0)
        return x, y

    def inverse(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (degrees) from projected ``x``, ``y`` (m)."""
        big_a, e, _, beta = self._series
        xi0, _ = self._xi_eta(np.asarray(self.lat0, np.float64), np.asarray(0.0))
        xi = (np.asarray(y, np.float64) - self.false_northing) / (self.k0 * big_a) + xi0
        eta = (np.asarray(x, np.float64) - self.false_easting) / (self.k0 * big_a)
        xi1, eta1 = xi.copy(), eta.copy()
        for j, coefficient in enumerate(beta, start=1):
            xi1 -= coefficient * np.sin(2 * j * xi) * np.cosh(2 * j * eta)
            eta1 -= coefficient * np.cos(2 * j * xi) * np.sinh(2 * j * eta)
        tau_prime = np.sin(xi1) / np.sqrt(np.sinh(eta1) ** 2 + np.cos(xi1) ** 2)
        lam = np.arctan2(np.sinh(eta1), np.cos(xi1))
        tau = tau_prime.copy()
        for _ in range(6):  # Newton on Karney's eq. 19; converges to round-off in 2–3 steps
            sigma = np.sinh(e * np.arctanh(e * tau / np.sqrt(1 + tau**2)))
            tau_i = tau * np.sqrt(1 + sigma**2) - sigma * np.sqrt(1 + tau**2)
            slope = (1 - e**2) * np.sqrt(1 + tau_i**2) * np.sqrt(1 + tau**2) / (1 + (1 - e**2) * tau**2)
            tau = tau + (tau_prime - tau_i) / slope
        return self.lon0 + np.degrees(lam), np.degrees(np.arctan(tau))


@lru_cache(maxsize=8)
def _coefficients(a: float, f: float):
    n = f / (2 - f)
    e = np.sqrt(f * (2 - f))
    big_a = a / (1 + n) * (1 + n**2 / 4 + n**4 / 64 + n**6 / 256)
    alpha = (
        n / 2 - 2 * n**2 / 3 + 5 * n**3 / 16 + 41 * n**4 / 180 - 127 * n**5 / 288 + 7891 * n**6 / 37800,
        13 * n**2 / 48 - 3 * n**3 / 5 + 557 * n**4 / 1440 + 281 * n**5 / 630 - 1983433 * n**6 / 1935360,
        61 * n**3 / 240 - 103 * n**4 / 140 + 15061 * n**5 / 26880 + 167603 * n**6 / 181440,
        49561 * n**4 / 161280 - 179 * n**5 / 168 + 6601661 * n**6 / 7257600,
        34729 * n**5 / 80640 - 3418889 * n**6 / 1995840,
        212378941 * n**6 / 319334400,
    )
    beta = (
        n / 2 - 2 * n**2 / 3 + 37 * n**3 / 96 - n**4 / 360 - 81 * n**5 / 512 + 96199 * n**6 / 604800,
        n**2 / 48 + n**3 / 15 - 437 * n**4 / 1440 + 46 * n**5 / 105 - 1118711 * n**6 / 3870720,
        17 * n**3 / 480 - 37 * n**4 / 840 - 209 * n**5 / 4480 + 5569 * n**6 / 90720,
        4397 * n**4 / 161280 - 11 * n**5 / 504 - 830251 * n**6 / 7257600,
        4583 * n**5 / 161280 - 108847 * n**6 / 3991680,
        20648693 * n**6 / 638668800,
    )
    return big_a, e, alpha, beta


#: The projected CRSs known without pyproj (EPSG registry parameters).
KNOWN_CRS: dict[str, TransverseMercator] = {
    "EPSG:5185": TransverseMercator(*_GRS80, 38.0, 125.0, 1.0, 200000.0, 600000.0),  # Korea 2000 / West Belt 2010
    "EPSG:5186": TransverseMercator(*_GRS80, 38.0, 127.0, 1.0, 200000.0, 600000.0),  # Korea 2000 / Central Belt 2010
    "EPSG:5187": TransverseMercator(*_GRS80, 38.0, 129.0, 1.0, 200000.0, 600000.0),  # Korea 2000 / East Belt 2010
    "EPSG:5179": TransverseMercator(*_GRS80, 38.0, 127.5, 0.9996, 1000000.0, 2000000.0),  # Korea 2000 / Unified CS
    "EPSG:32651": TransverseMercator(*_WGS84, 0.0, 123.0, 0.9996, 500000.0, 0.0),  # WGS 84 / UTM zone 51N
    "EPSG:32652": TransverseMercator(*_WGS84, 0.0, 129.0, 0.9996, 500000.0, 0.0),  # WGS 84 / UTM zone 52N
}
_GEOGRAPHIC = {"EPSG:4326", "EPSG:4737", "EPSG:4019", "WGS84", "LONLAT"}


def _canonical(crs: str) -> str:
    text = str(crs).strip().upper().replace(" ", "")
    return {"UTM52N": "EPSG:32652", "UTM51N": "EPSG:32651"}.get(text, text)


def is_geographic(crs: str) -> bool:
    """True for longitude/latitude CRSs (WGS 84, Korea 2000 geographic)."""
    return _canonical(crs) in _GEOGRAPHIC


def lonlat_to_projected(lon, lat, crs: str, where: str = "stations.crs") -> tuple[np.ndarray, np.ndarray]:
    """Project longitude/latitude (degrees, WGS 84 ≈ Korea 2000 to a few cm) into ``crs`` (m).

    Uses the built-in Transverse Mercator for :data:`KNOWN_CRS`, else pyproj when installed.

    Raises
    ------
    ConfigError
        Naming ``where`` when ``crs`` is neither built in nor available through pyproj.
    """
    key = _canonical(crs)
    if key in KNOWN_CRS:
        return KNOWN_CRS[key].forward(lon, lat)
    return _pyproj("EPSG:4326", crs, where).transform(np.asarray(lon, float), np.asarray(lat, float))


def projected_to_lonlat(x, y, crs: str, where: str = "stations.crs") -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude (degrees) of projected ``x``, ``y`` (m) in ``crs``."""
    key = _canonical(crs)
    if key in KNOWN_CRS:
        return KNOWN_CRS[key].inverse(x, y)
    return _pyproj(crs, "EPSG:4326", where).transform(np.asarray(x, float), np.asarray(y, float))


def transform(x, y, from_crs: str, to_crs: str, where: str = "stations.crs") -> tuple[np.ndarray, np.ndarray]:
    """Coordinates from one CRS to another (geographic as lon/lat degrees, projected as m)."""
    if _canonical(from_crs) == _canonical(to_crs):
        return np.asarray(x, float), np.asarray(y, float)
    lon, lat = (x, y) if is_geographic(from_crs) else projected_to_lonlat(x, y, from_crs, where)
    if is_geographic(to_crs):
        return np.asarray(lon, float), np.asarray(lat, float)
    return lonlat_to_projected(lon, lat, to_crs, where)


def _pyproj(source: str, target: str, where: str):
    try:
        from pyproj import Transformer  # noqa: PLC0415
        from pyproj.exceptions import CRSError  # noqa: PLC0415
    except ImportError:
        raise ConfigError(where, f"CRS {source if source != 'EPSG:4326' else target!r} is not built in "
                                 f"(built in: {', '.join(KNOWN_CRS)}, EPSG:4326); install pyproj "
                                 "(pip install plumetwin[geo]) for others") from None
    try:
        return Transformer.from_crs(source, target, always_xy=True)
    except CRSError as exc:
        raise ConfigError(where, f"unknown CRS: {exc}") from None
