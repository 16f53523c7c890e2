"""The schema's shared pieces: the strict model base, lon/lat points, GeoJSON and area files, placed interventions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import shapely
import shapely.geometry
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ..network import MODES

Mode = Literal[MODES]
POLYGONS = ("Polygon", "MultiPolygon")
LINES = ("LineString", "MultiLineString")


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
        parts = [parse_geojson(f, kinds=kinds) for f in value.get("features") or []]
        if not parts:
            raise ValueError("empty FeatureCollection; expected at least one feature")
        return shapely.union_all(parts)
    if value["type"] == "Feature":
        return parse_geojson(value.get("geometry"), kinds=kinds)
    try:
        geometry = shapely.geometry.shape(value)
    except Exception as exc:
        raise ValueError(f"invalid GeoJSON {value.get('type')} ({exc})") from exc
    if geometry.geom_type not in kinds:
        raise ValueError(f"a {geometry.geom_type}; expected {' or '.join(kinds)}")
    if geometry.is_empty:
        raise ValueError("empty geometry")
    left, bottom, right, top = geometry.bounds
    if not (-180 <= left <= right <= 180 and -90 <= bottom <= top <= 90):
        raise ValueError("coordinates are not lon/lat degrees; GeoJSON must be in EPSG:4326 [longitude, latitude]")
    if not geometry.is_valid:
        raise ValueError(f"invalid geometry ({shapely.is_valid_reason(geometry)})")
    return geometry


def read_area_file(name: str, base_dir: Path | None) -> shapely.Geometry:
    """Polygons of a GeoJSON/GeoPackage/shapefile given relative to the scenario file, in lon/lat."""
    import geopandas as gpd

    path = Path(name) if base_dir is None else Path(base_dir) / name
    if not path.is_file():
        raise ValueError(f"file '{name}' not found next to the scenario file; expected a GeoJSON or GeoPackage")
    try:
        frame = gpd.read_file(path)
    except Exception as exc:
        raise ValueError(f"cannot read '{name}' ({type(exc).__name__}); expected a GeoJSON or GeoPackage") from exc
    if frame.empty or frame.crs is None:
        raise ValueError(f"'{name}' is empty or has no CRS; expected polygons with a CRS")
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
            read_area_file(value, (info.context or {}).get("base_dir"))
        return value

    def place_count(self) -> int:
        """How many of the ways to place it were given (exactly one is valid)."""
        return sum(v is not None for v in (self.area, self.area_file))

    def shape(self, base_dir: Path | None = None) -> shapely.Geometry | None:
        """The area in lon/lat, from ``area`` or read from ``area_file``."""
        if self.area is not None:
            return parse_geojson(self.area, kinds=POLYGONS)
        if self.area_file is not None:
            return read_area_file(self.area_file, base_dir)
        return None

    def input_files(self) -> list[str]:
        """Files it reads, relative to the scenario file (for the run's manifest)."""
        return [] if self.area_file is None else [self.area_file]
