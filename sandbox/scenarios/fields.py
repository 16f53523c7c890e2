"""The schema's shared pieces: the strict model base, lon/lat points, GeoJSON and area files, placed interventions,
the limits on what a scenario may hold and the rule that its files stay in its folder."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import shapely
import shapely.geometry
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from .._errors import ScenarioError
from ..network import MODES

StreetMode = Literal[MODES]
Mode = Literal[(*MODES, "transit")]  # a street network's mode, or transit (walk + ride)
POLYGONS = ("Polygon", "MultiPolygon")
LINES = ("LineString", "MultiLineString")


# --- limits -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """A bound on what a scenario may hold (so that no file can take the machine's memory or hours of work),
    raised with an environment variable, e.g. ``SANDBOX_MAX_SCENARIO_BYTES=5000000``. The README's "Limits" lists
    them with why each default was chosen."""

    env: str
    default: int
    unit: str

    @property
    def value(self) -> int:
        """The limit in force: the environment variable when set, else the default."""
        raw = os.environ.get(self.env, "").strip()
        if not raw:
            return self.default
        try:
            value = int(raw.replace("_", "").replace(",", ""))
        except ValueError:
            value = 0
        if value < 1:
            raise ScenarioError(f"{self.env}: {raw!r} is not a limit; expected a whole number of {self.unit} such "
                                f"as {self.default} (the default), or unset it")
        return value

    def exceeded(self, found: str, advice: str = "") -> str:
        """``"<found>; expected at most <limit> <unit> (<advice>, or raise the limit with <ENV>)"``: the end of a
        one-line problem that names the limit and how to raise it."""
        instead = f"{advice}, or " if advice else ""
        return f"{found}; expected at most {self.value:,} {self.unit} ({instead}raise the limit with {self.env})"


MAX_SCENARIO_BYTES = Limit("SANDBOX_MAX_SCENARIO_BYTES", 1_000_000, "bytes per scenario file")
MAX_NESTING = Limit("SANDBOX_MAX_NESTING", 32, "levels of lists and mappings")
MAX_YAML_VALUES = Limit("SANDBOX_MAX_YAML_VALUES", 1_000_000, "values after expanding aliases")
MAX_INTERVENTIONS = Limit("SANDBOX_MAX_INTERVENTIONS", 10_000, "interventions per scenario")
MAX_VERTICES = Limit("SANDBOX_MAX_VERTICES", 10_000, "vertices per geometry")
MAX_AREA_FILE_BYTES = Limit("SANDBOX_MAX_AREA_FILE_BYTES", 20_000_000, "bytes per area file")
MAX_NEW_HOUSEHOLDS = Limit("SANDBOX_MAX_NEW_HOUSEHOLDS", 1_000_000, "households added by one scenario")
LIMITS = (MAX_SCENARIO_BYTES, MAX_NESTING, MAX_YAML_VALUES, MAX_INTERVENTIONS, MAX_VERTICES, MAX_AREA_FILE_BYTES,
          MAX_NEW_HOUSEHOLDS)


def check_limits() -> None:
    """Every limit's environment variable readable (one line naming a bad one), before a file is read."""
    for limit in LIMITS:
        limit.value  # noqa: B018


def count_vertices(geometries: Any, name: str = "") -> None:
    """ValueError naming the limit when the geometries (one or an array) have more than :data:`MAX_VERTICES`
    vertices together."""
    count = int(np.sum(shapely.get_num_coordinates(geometries)))
    if count > MAX_VERTICES.value:
        where = f"'{name}' has" if name else "has"
        raise ValueError(MAX_VERTICES.exceeded(f"{where} {count:,} vertices", "simplify it"))


# --- files stay in the scenario's folder ------------------------------------------------------------------------


def outside_message(name: str, expected: str = "a file") -> str:
    """The one message for a file outside the scenario's folder, whether or not it exists (so that it reveals
    nothing about other folders)."""
    return (f"'{name}' is not a readable file in the scenario's folder; expected {expected} next to the scenario "
            "(or pass --allow-path)")


def input_file(name: str, base_dir: Path | None, allow_paths: Sequence[str | Path] = (), *,
               expected: str = "a file") -> Path:
    """The file a scenario names, relative to the scenario's folder (``base_dir``; the current folder when None).

    Resolved (symlinks followed, ``..`` removed), it must lie in ``base_dir`` or in one of ``allow_paths``
    (``--allow-path``); else ValueError with :func:`outside_message`, the same whether the file exists or not.
    Whether it exists is the caller's to check: only files in allowed folders are ever looked at.
    """
    base = Path.cwd() if base_dir is None else Path(base_dir)
    try:
        path = (base / name).resolve()
        roots = [base.resolve(), *(Path(root).resolve() for root in allow_paths)]
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a name too long, a symlink loop
        raise ValueError(outside_message(name, expected)) from None
    if not any(path.is_relative_to(root) for root in roots):
        raise ValueError(outside_message(name, expected))
    return Path(name) if base_dir is None else Path(base_dir) / name


class Model(BaseModel):
    """Every part of a scenario: unknown keys are errors, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


LonLat = Annotated[tuple[float, float], Field(description="[longitude, latitude] in degrees (EPSG:4326)")]


def lonlat(value: tuple[float, float]) -> tuple[float, float]:
    """A checked [longitude, latitude] pair in degrees."""
    lon, lat = value
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"[{lon}, {lat}] is not a lon/lat pair; expected [longitude, latitude] in degrees")
    return float(lon), float(lat)


def parse_geojson(value: Any, *, kinds: tuple[str, ...]) -> shapely.Geometry:
    """A GeoJSON geometry, Feature or FeatureCollection in lon/lat as one shapely geometry of the given kinds."""
    if not isinstance(value, dict) or "type" not in value:
        raise ValueError("not GeoJSON; expected a mapping with 'type' and 'coordinates', e.g. "
                         "{type: Polygon, coordinates: [[[24.93, 60.168], ...]]}")
    if value["type"] == "FeatureCollection":
        features = value.get("features") or []
        if not isinstance(features, list):
            raise ValueError("features is not a list; expected a FeatureCollection's list of features")
        parts = [parse_geojson(f, kinds=kinds) for f in features]
        if not parts:
            raise ValueError("empty FeatureCollection; expected at least one feature")
        count_vertices(np.array(parts, dtype=object))  # the limit is for all the features together
        return shapely.union_all(parts)
    if value["type"] == "Feature":
        return parse_geojson(value.get("geometry"), kinds=kinds)
    try:
        geometry = shapely.geometry.shape(value)
    except Exception as exc:
        raise ValueError(f"invalid GeoJSON {value.get('type')} ({exc})") from exc
    if geometry.geom_type not in kinds:
        raise ValueError(f"a {geometry.geom_type}; expected {' or '.join(kinds)}")
    count_vertices(geometry)
    if geometry.is_empty:
        raise ValueError("empty geometry")
    left, bottom, right, top = geometry.bounds
    if not (-180 <= left <= right <= 180 and -90 <= bottom <= top <= 90):
        raise ValueError("coordinates are not lon/lat degrees; GeoJSON must be in EPSG:4326 [longitude, latitude]")
    if not geometry.is_valid:
        raise ValueError(f"invalid geometry ({shapely.is_valid_reason(geometry)})")
    return geometry


def read_area_file(name: str, base_dir: Path | None, allow_paths: Sequence[str | Path] = ()) -> shapely.Geometry:
    """Polygons of a GeoJSON/GeoPackage/shapefile given relative to the scenario file, in lon/lat.

    The file must lie in the scenario's folder (or one of ``allow_paths``), be at most
    :data:`MAX_AREA_FILE_BYTES` and hold at most :data:`MAX_VERTICES` vertices.
    """
    import geopandas as gpd

    expected = "a GeoJSON or GeoPackage"
    path = input_file(name, base_dir, allow_paths, expected=expected)
    if not path.is_file():
        raise ValueError(f"file '{name}' not found next to the scenario file; expected {expected}")
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    if size > MAX_AREA_FILE_BYTES.value:
        raise ValueError(MAX_AREA_FILE_BYTES.exceeded(f"'{name}' is {size:,} bytes"))
    try:
        frame = gpd.read_file(path)
    except Exception as exc:
        raise ValueError(f"cannot read '{name}' ({type(exc).__name__}); expected {expected}") from exc
    if frame.empty or frame.crs is None:
        raise ValueError(f"'{name}' is empty or has no CRS; expected polygons with a CRS")
    count_vertices(np.asarray(frame.geometry.values), name)
    geometry = shapely.union_all(frame.to_crs(4326).geometry.values)
    if geometry.geom_type not in POLYGONS:
        raise ValueError(f"'{name}' holds a {geometry.geom_type}; expected polygons")
    if geometry.is_empty or not geometry.is_valid:
        raise ValueError(f"'{name}' holds an empty or invalid polygon ({shapely.is_valid_reason(geometry)})")
    return geometry


class Located(Model):
    """Placed by an inline GeoJSON ``area`` or an ``area_file`` next to the scenario file."""

    area: dict[str, Any] | None = None
    area_file: str | None = None

    @field_validator("area")
    @classmethod
    def _check_area(cls, value: dict | None) -> dict | None:
        if value is not None:
            parse_geojson(value, kinds=POLYGONS)
        return value

    @field_validator("area_file")
    @classmethod
    def _check_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            context = info.context or {}
            read_area_file(value, context.get("base_dir"), context.get("allow_paths") or ())
        return value

    def place_count(self) -> int:
        """How many of the ways to place it were given (exactly one is valid)."""
        return sum(v is not None for v in (self.area, self.area_file))

    def shape(self, base_dir: Path | None = None, allow_paths: Sequence[str | Path] = ()) -> shapely.Geometry | None:
        """The area in lon/lat, from ``area`` or read from ``area_file`` (in ``base_dir`` or ``allow_paths``)."""
        if self.area is not None:
            return parse_geojson(self.area, kinds=POLYGONS)
        if self.area_file is not None:
            return read_area_file(self.area_file, base_dir, allow_paths)
        return None

    def input_files(self) -> list[str]:
        """Files it reads, relative to the scenario file (for the run's manifest)."""
        return [] if self.area_file is None else [self.area_file]
