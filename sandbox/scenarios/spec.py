"""The scenario file's schema: pydantic models of a what-if, with interventions as a union on ``type``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

import shapely
import shapely.geometry
from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, ValidationInfo, field_validator,
                      model_validator)

MODES = ("walk", "bike", "drive")
Mode = Literal["walk", "bike", "drive"]
HOUSEHOLD_KINDS = ("elderly_alone", "elderly_couple", "family", "other")


class Model(BaseModel):
    """Every part of a scenario: unknown keys are errors, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _lonlat(value: tuple[float, float]) -> tuple[float, float]:
    lon, lat = value
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"[{lon}, {lat}] is not a lon/lat pair; expected [longitude, latitude] in degrees")
    return float(lon), float(lat)


LonLat = Annotated[tuple[float, float], Field(description="[longitude, latitude] in degrees (EPSG:4326)")]


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


POLYGONS = ("Polygon", "MultiPolygon")
LINES = ("LineString", "MultiLineString")


class Located(Model):
    """An intervention placed by an inline GeoJSON ``area`` or an ``area_file`` next to the scenario file."""

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
        return sum(v is not None for v in (self.area, self.area_file))

    def shape(self, base_dir: Path | None = None) -> shapely.Geometry | None:
        """The area in lon/lat, from ``area`` or read from ``area_file``."""
        if self.area is not None:
            return parse_geojson(self.area, kinds=POLYGONS)
        if self.area_file is not None:
            return read_area_file(self.area_file, base_dir)
        return None


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


# --- interventions ----------------------------------------------------------------------------------------------


class AddHousing(Located):
    """New homes: a building on ``area`` (or a square one at ``at``) with households of a given composition."""

    type: Literal["add_housing"]
    name: str = "new housing"
    at: LonLat | None = None
    households: StrictInt | None = Field(default=None, gt=0, le=100_000)
    floor_area_m2: float | None = Field(default=None, gt=0)
    levels: StrictInt = Field(default=4, ge=1, le=100)
    composition: dict[Literal["elderly_alone", "elderly_couple", "family", "other"], float] = \
        Field(default_factory=lambda: {"other": 1.0})

    @model_validator(mode="after")
    def _complete(self) -> AddHousing:
        if self.place_count() + (self.at is not None) != 1:
            raise ValueError("give exactly one of area, area_file or at")
        if (self.households is None) == (self.floor_area_m2 is None):
            raise ValueError("give exactly one of households or floor_area_m2")
        if self.at is not None:
            _lonlat(self.at)
        total = sum(self.composition.values())
        if any(v < 0 for v in self.composition.values()) or abs(total - 1) > 0.01:
            raise ValueError(f"composition shares sum to {total:g}; expected shares >= 0 that sum to 1")
        return self


class RemoveBuildings(Located):
    """Demolition: buildings in ``area`` or with the given ``ids``; their households are displaced."""

    type: Literal["remove_buildings"]
    ids: list[StrictInt] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> RemoveBuildings:
        if self.place_count() + (self.ids is not None) != 1:
            raise ValueError("give exactly one of area, area_file or ids")
        return self


class AddPark(Located):
    """A new park on ``area``; people reach it where it meets the streets."""

    type: Literal["add_park"]
    name: str = "new park"

    @model_validator(mode="after")
    def _complete(self) -> AddPark:
        if self.place_count() != 1:
            raise ValueError("give exactly one of area or area_file")
        return self


class RemovePark(Located):
    """Parks lost: by ``ids``, ``names``, or those mostly inside ``area``."""

    type: Literal["remove_park"]
    ids: list[StrictInt] | None = Field(default=None, min_length=1)
    names: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> RemovePark:
        if self.place_count() + (self.ids is not None) + (self.names is not None) != 1:
            raise ValueError("give exactly one of area, area_file, ids or names")
        return self


class AddFacility(Model):
    """A new facility of a ``kind`` (care, grocery, school, elderly_centre, ...) at a point."""

    type: Literal["add_facility"]
    kind: str
    at: LonLat
    name: str = "new facility"
    capacity: float = Field(default=1.0, gt=0)

    @field_validator("at")
    @classmethod
    def _check_at(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _lonlat(value)


class CloseFacility(Model):
    """Facilities closed, by ``ids`` (facility_id) or ``names``."""

    type: Literal["close_facility"]
    ids: list[StrictInt] | None = Field(default=None, min_length=1)
    names: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> CloseFacility:
        if (self.ids is None) == (self.names is None):
            raise ValueError("give exactly one of ids or names")
        return self


class CloseStreets(Located):
    """Streets closed (or slowed, with ``speed_factor``) in ``area``, along a ``line`` or by ``osm_ids``."""

    type: Literal["close_streets"]
    name: str = "street closure"
    line: dict[str, Any] | None = None
    buffer_m: float = Field(default=15.0, gt=0, le=1000)
    osm_ids: list[StrictInt] | None = Field(default=None, min_length=1)
    modes: list[Mode] = Field(default_factory=lambda: list(MODES), min_length=1)
    speed_factor: float | None = Field(default=None, gt=0, le=1)

    @field_validator("line")
    @classmethod
    def _check_line(cls, value: dict | None) -> dict | None:
        if value is not None:
            parse_geojson(value, kinds=LINES)
        return value

    @model_validator(mode="after")
    def _complete(self) -> CloseStreets:
        if self.place_count() + (self.line is not None) + (self.osm_ids is not None) != 1:
            raise ValueError("give exactly one of area, area_file, line or osm_ids")
        return self

    def line_shape(self) -> shapely.Geometry | None:
        return None if self.line is None else parse_geojson(self.line, kinds=LINES)


class StopSpec(Model):
    at: LonLat
    name: str

    @field_validator("at")
    @classmethod
    def _check_at(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _lonlat(value)


class AddTransitStop(StopSpec):
    """A new stop, e.g. a tram stop."""

    type: Literal["add_transit_stop"]
    mode: str = "tram"
    headway_min: float | None = Field(default=None, gt=0)


class AddTransitLine(Model):
    """A new line: its stops become destinations, each with the line's headway (minutes between departures)."""

    type: Literal["add_transit_line"]
    name: str
    mode: str = "tram"
    headway_min: float = Field(gt=0)
    stops: list[StopSpec] = Field(min_length=2)


class ReturnPeriod(Model):
    """One event of a flood's risk curve: a water level (or depth raster) and its annual probability."""

    annual_probability: float = Field(gt=0, le=1)
    level_m: float | None = None
    raster_file: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> ReturnPeriod:
        if (self.level_m is None) == (self.raster_file is None):
            raise ValueError("give exactly one of level_m or raster_file")
        return self


class Flood(Located):
    """Water on the twin: a still ``water_level`` on its terrain, a ``depth_raster`` from an authority or model,
    or drawn ``extent`` polygons with a depth. Streets deeper than a mode's limit become impassable."""

    type: Literal["flood"]
    name: str = "flood"
    hazard: Literal["water_level", "depth_raster", "extent"]
    level_m: float | None = Field(default=None, ge=-10, le=50)
    connected: bool = True
    raster_file: str | None = None
    raster_crs: str | None = None
    depth_m: float | None = Field(default=None, gt=0, le=20)
    resolution_m: float = Field(default=5.0, gt=0, le=100)
    passable_m: dict[Mode, float] = Field(default_factory=dict)
    damage_curve: str = "jrc_residential"
    value_per_m2: float = Field(default=2000.0, gt=0)
    return_periods: list[ReturnPeriod] | None = Field(default=None, min_length=2)

    @model_validator(mode="after")
    def _complete(self) -> Flood:
        needs = {"water_level": ("level_m", self.level_m), "depth_raster": ("raster_file", self.raster_file),
                 "extent": ("depth_m", self.depth_m)}
        field_name, value = needs[self.hazard]
        if value is None and not (self.hazard == "water_level" and self.return_periods):
            raise ValueError(f"hazard {self.hazard} needs {field_name}")
        if self.hazard == "extent" and self.place_count() != 1:
            raise ValueError("hazard extent needs exactly one of area or area_file (the flooded polygons)")
        if any(v <= 0 for v in self.passable_m.values()):
            raise ValueError("passable_m values must be depths > 0 in metres")
        return self


class AgePopulation(Model):
    """The same households, ``years`` older (no births, deaths or moves)."""

    type: Literal["age_population"]
    years: StrictInt = Field(ge=1, le=50)


Intervention = Annotated[
    Union[AddHousing, RemoveBuildings, AddPark, RemovePark, AddFacility, CloseFacility, CloseStreets,
          AddTransitStop, AddTransitLine, AgePopulation, Flood],
    Field(discriminator="type"),
]
INTERVENTION_TYPES = ("add_housing", "remove_buildings", "add_park", "remove_park", "add_facility",
                      "close_facility", "close_streets", "add_transit_stop", "add_transit_line", "age_population",
                      "flood")


# --- the scenario -----------------------------------------------------------------------------------------------


class Indicator(Model):
    """An accessibility indicator computed for the baseline and the scenario."""

    measure: Literal["nearest", "within", "supply"]
    to: str
    minutes: list[float] = Field(default_factory=lambda: [10.0], min_length=1)
    mode: Mode = "walk"
    capacity: str | None = None

    @field_validator("minutes", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @field_validator("minutes")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(m <= 0 or m > 240 for m in value):
            raise ValueError("minutes must be between 0 and 240")
        return sorted(set(value))

    @property
    def key(self) -> str:
        """A short stable name, e.g. ``within-parks-walk`` or ``supply-parks-area_m2-walk``."""
        parts = [self.measure, self.to, *([self.capacity] if self.capacity else []), self.mode]
        return "-".join(parts)


class Outputs(Model):
    k: StrictInt = Field(default=5, ge=1, description="hide zones with fewer households than this")
    allow_microdata: bool = False


def _default_indicators() -> list[Indicator]:
    return [Indicator(measure="within", to="parks", minutes=[10]), Indicator(measure="nearest", to="care",
                                                                            minutes=[5, 10])]


class Scenario(Model):
    """One what-if: a twin, the changes to make, and what to measure, for whom."""

    schema_version: Literal[1]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
                      description="lowercase letters, digits, - and _; names the run folder")
    description: str = ""
    twin: str = "helsinki"
    seed: StrictInt = Field(default=0, ge=0)
    interventions: list[Intervention] = Field(default_factory=list)
    indicators: list[Indicator] = Field(default_factory=_default_indicators, min_length=1)
    groups: list[str] = Field(default_factory=lambda: ["all", "elderly", "elderly_alone", "children"],
                              min_length=1)
    outputs: Outputs = Field(default_factory=Outputs)
    _base_dir: Path | None = PrivateAttr(default=None)
    _source: Path | None = PrivateAttr(default=None)
    _lines: dict[tuple, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_indicators(self, info: ValidationInfo) -> Scenario:
        keys = [i.key for i in self.indicators]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"indicators repeat {', '.join(duplicates)}; list each measure/to/mode once")
        context = info.context or {}
        self._base_dir = context.get("base_dir")
        self._source = context.get("source")
        self._lines = dict(context.get("lines") or {})
        return self

    @property
    def base_dir(self) -> Path | None:
        """The folder of the scenario file: relative paths (area_file, twin folders) start there."""
        return self._base_dir

    @property
    def source(self) -> Path | None:
        return self._source

    def where(self, *path: str | int) -> str:
        """``file:line: field.path`` of a part of the scenario, for one-line messages."""
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        line = self._lines.get(tuple(path))
        place = f"{self._source or self.name}" + (f":{line}" if line else "")
        return f"{place}: {dotted}" if dotted else place
