"""The Twin: a frozen bundle of a city's layers, street networks, households, terrain and provenance."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely
import xarray as xr

from ._errors import DataError, TwinError, writing
from ._io import sha256_file, staged_folder
from .network import StreetNetwork, as_street_network, network_frames, network_from_frames
from .timetable import Timetable, read_timetable, timetable_digest, write_timetable

FORMAT_VERSION = 2  # 2: street networks as GeoParquet arrays (1: networkx graphs in the GeoPackage)
LAYER_NAMES = ("buildings", "parks", "transit_stops", "facilities", "water", "zones")
GROUP_COLUMNS = ("elderly", "elderly_alone", "children")


@dataclasses.dataclass(frozen=True, eq=False)
class Twin:
    """A city at one moment: every layer in one metric CRS, linked by index.

    The twin is never edited in place: a scenario builds a new one with :meth:`replace`, and
    :meth:`fingerprint` proves that the baseline stayed as it was. ``edge_factors`` multiply the travel times
    of a mode's edges (in the network's edge order; ``inf`` = closed): a street closure is a weight, not a rebuilt
    network. ``networks`` are arrays (:class:`~sandbox.network.StreetNetwork`); a networkx graph given instead is
    converted, and ``twin.networks[mode].to_networkx()`` gives one back. ``flood_depth`` (metres of water on a grid
    in the twin CRS) is set by a flood scenario. ``timetable`` is one service date of scheduled public transport (the ``transit`` mode), or None.
    """

    name: str
    crs: str
    layers: Mapping[str, gpd.GeoDataFrame]
    households: pd.DataFrame
    networks: Mapping[str, StreetNetwork]
    terrain: xr.DataArray | None = None
    provenance: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    edge_factors: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    flood_depth: xr.DataArray | None = None
    timetable: Timetable | None = None
    # Derived data (fingerprint, compiled search graphs) computed once per twin object; a variant made with
    # replace() starts with an empty cache, so nothing derived from the old content can leak into it.
    cache: dict[Any, Any] = dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, layer in self.layers.items():
            if layer.crs is None or layer.crs.to_string() != self.crs:
                raise TwinError(f"layer {name}: CRS {layer.crs} differs from the twin's {self.crs}; reproject it")
        networks = {mode: as_street_network(network) for mode, network in self.networks.items()}
        for mode, factor in self.edge_factors.items():
            expected = networks[mode].n_edges if mode in networks else -1
            if np.shape(factor) != (expected,):
                raise TwinError(f"edge_factors[{mode}]: {np.shape(factor)} values; expected one per {mode} edge "
                                f"({expected})")
        object.__setattr__(self, "layers", MappingProxyType(dict(self.layers)))
        object.__setattr__(self, "edge_factors", MappingProxyType(
            {mode: np.asarray(f, dtype="float64") for mode, f in self.edge_factors.items()}))
        object.__setattr__(self, "networks", MappingProxyType(networks))
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))

    def travel_time_factors(self, mode: str) -> np.ndarray:
        """Per-edge multipliers of the mode's travel times (ones when nothing is closed or slowed)."""
        if mode in self.edge_factors:
            return self.edge_factors[mode]
        return np.ones(self.networks[mode].n_edges)

    def with_layer(self, name: str, layer: gpd.GeoDataFrame) -> Twin:
        """A new twin with one layer swapped, the others shared."""
        return self.replace(layers={**self.layers, name: layer})

    def replace(self, **changes: Any) -> Twin:
        """A new twin with some parts swapped (copy-on-write: untouched layers are shared, not copied)."""
        return dataclasses.replace(self, **changes)

    def fingerprint(self) -> str:
        """A hash of the twin's content (not of when or where it was built): equal twins, equal fingerprints.

        Computed once per twin object: the twin is frozen, so its content cannot change afterwards.
        """
        if "fingerprint" not in self.cache:
            self.cache["fingerprint"] = self._content_hash()
        return self.cache["fingerprint"]

    def _content_hash(self) -> str:
        digest = hashlib.sha256(f"crs={self.crs}".encode())
        for name in sorted(self.layers):
            digest.update(f"layer={name}".encode())
            digest.update(frame_digest(self.layers[name]))
        digest.update(b"households")
        digest.update(frame_digest(self.households))
        for mode in sorted(self.networks):
            digest.update(f"network={mode}".encode())
            digest.update(network_digest(self.networks[mode]))
            if mode in self.edge_factors:
                digest.update(np.nan_to_num(self.edge_factors[mode], posinf=1e300).tobytes())
        if self.timetable is not None:
            digest.update(b"timetable")
            digest.update(timetable_digest(self.timetable))
        for name, grid in (("terrain", self.terrain), ("flood_depth", self.flood_depth)):
            if grid is not None:
                digest.update(name.encode())
                digest.update(np.ascontiguousarray(grid.values, dtype="float64").tobytes())
                for dim in grid.dims:
                    digest.update(np.asarray(grid[dim].values, dtype="float64").tobytes())
        return digest.hexdigest()[:16]

    def home_points(self) -> tuple[np.ndarray, np.ndarray, bytes]:
        """The distinct points households live at (households of one building share one, so each is joined to the
        streets once), each household's position among them, and a digest of the points; once per twin object."""
        if "homes" not in self.cache:
            # (x, y) as one complex number: sorted as rows are (x, then y), ten times faster than unique(axis=0)
            xy = np.ascontiguousarray(self.households[["x", "y"]].to_numpy(float)).view(np.complex128).ravel()
            unique, inverse = np.unique(xy, return_inverse=True)
            points = np.column_stack([unique.real, unique.imag])
            self.cache["homes"] = points, inverse.ravel(), hashlib.blake2b(points.tobytes()).digest()
        return self.cache["homes"]

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """Bounding box (left, bottom, right, top) of the walking network, the area the twin speaks for."""
        if "extent" not in self.cache:
            net = self.networks.get("walk") or next(iter(self.networks.values()))
            self.cache["extent"] = net.bounds
        return self.cache["extent"]

    def summary(self) -> dict[str, Any]:
        """What the twin holds, in plain numbers, for `sandbox info` and notebooks."""
        layers = {}
        for name, layer in self.layers.items():
            kinds = layer.geom_type.value_counts()
            layers[name] = {
                "rows": int(len(layer)),
                "geometry": ", ".join(kinds.index) if len(kinds) else "none",
                "source": self.provenance.get(name, {}).get("source", ""),
                "licence": self.provenance.get(name, {}).get("licence", ""),
            }
        networks = {mode: {"nodes": net.n_nodes, "edges": net.n_edges, "dropped_nodes": net.dropped_nodes}
                    for mode, net in self.networks.items()}
        hh = self.households
        groups = {"all": {"households": int(len(hh)), "residents": int(hh["size"].sum())}}
        for group in GROUP_COLUMNS:
            members = hh[hh[group]]
            groups[group] = {"households": int(len(members)), "residents": int(members["size"].sum())}
        groups["elderly"]["residents_65plus"] = int(hh["n_elderly"].sum())
        groups["children"]["residents_under_18"] = int(hh["n_children"].sum())
        return {
            "name": self.name,
            "crs": self.crs,
            "extent": [round(v, 1) for v in self.extent],
            "fingerprint": self.fingerprint(),
            "layers": layers,
            "networks": networks,
            "households": groups,
            "households_source": self.provenance.get("households", {}).get("source", ""),
            "transit": None if self.timetable is None else {
                "service_date": str(self.timetable.service_date), "stops": self.timetable.n_stops,
                "routes": len(self.timetable.route_ids), "patterns": self.timetable.n_patterns,
                "trips": self.timetable.n_trips, "source": self.timetable.source,
                "licence": self.timetable.licence,
            },
            "terrain": None if self.terrain is None else {
                "shape": list(self.terrain.shape),
                "resolution_m": float(abs(self.terrain.rio.resolution()[0])),
                "source": self.provenance.get("terrain", {}).get("source", ""),
            },
        }

    def _group_counts(self) -> dict[str, tuple[int, int]]:
        """Households and residents, in all and per group: cheap (no fingerprint), for the reprs."""
        sizes = self.households["size"]
        counts = {"all": (len(sizes), int(sizes.sum()))}
        for group in GROUP_COLUMNS:
            members = sizes[self.households[group].to_numpy(bool)]
            counts[group] = (len(members), int(members.sum()))
        return counts

    def __repr__(self) -> str:
        layers = ", ".join(f"{name} {len(layer):,}" for name, layer in self.layers.items())
        households, residents = self._group_counts()["all"]
        networks = ", ".join(f"{mode} {net.n_nodes:,} nodes/{net.n_edges:,} edges"
                             for mode, net in self.networks.items())
        extras = "".join(f"; {part}" for part, grid in (("terrain", self.terrain), ("flood depth", self.flood_depth))
                         if grid is not None)
        if self.timetable is not None:
            extras += (f"; transit {self.timetable.n_stops:,} stops/{self.timetable.n_trips:,} trips on "
                       f"{self.timetable.service_date}")
        return (f"Twin({self.name!r}, {self.crs}: {layers}; {households:,} households, {residents:,} residents; "
                f"networks {networks or 'none'}{extras})")

    def _repr_html_(self) -> str:

        def table(head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
            cells = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                            for row in rows)
            return ("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + f"</tr>{cells}</table>")

        layers = [(name, f"{len(layer):,}", self.provenance.get(name, {}).get("source", ""),
                   self.provenance.get(name, {}).get("licence", "")) for name, layer in self.layers.items()]
        groups = [(group, f"{n:,}", f"{r:,}") for group, (n, r) in self._group_counts().items()]
        networks = [(mode, f"{net.n_nodes:,}", f"{net.n_edges:,}") for mode, net in self.networks.items()]
        grids = [(name, " x ".join(str(n) for n in grid.shape)) for name, grid in
                 (("terrain", self.terrain), ("flood depth", self.flood_depth)) if grid is not None]
        source = self.provenance.get("households", {}).get("source", "")
        return (f"<div><b>Twin {html.escape(self.name)}</b> ({html.escape(self.crs)})"
                + table(("layer", "rows", "source", "licence"), layers)
                + table(("group", "households", "residents"), groups)
                + (f"<small>Households: {html.escape(source)}</small>" if source else "")
                + table(("network", "nodes", "edges"), networks)
                + (table(("grid", "cells"), grids) if grids else "") + "</div>")


def network_digest(net: StreetNetwork) -> bytes:
    """Content hash of a street network's arrays, once per network object: scenario twins share their networks
    with the baseline (closures are edge factors, not edits), so a variant's fingerprint does not re-read every
    street. Equal after a save and load (names and tags as text, geometry as coordinates)."""
    if "digest" not in net.cache:
        digest = hashlib.sha256(repr((net.n_nodes, net.n_edges)).encode())
        for array in (net.node_ids, net.xy, net.edge_u, net.edge_v, net.keys, net.osmids, net.length_m, net.time_s):
            digest.update(np.ascontiguousarray(array).tobytes())
        for text in (net.highways, net.names):  # as codes and the distinct values: joining every name took 2 s
            codes, values = pd.factorize(text, use_na_sentinel=True)
            digest.update(codes.astype("int64").tobytes())
            digest.update("\x1f".join(map(str, values)).encode())
        coords, owner = shapely.get_coordinates(net.geometry, return_index=True)
        digest.update(coords.tobytes())
        digest.update(np.bincount(owner, minlength=net.n_edges).tobytes())
        net.cache["digest"] = digest.digest()
    return net.cache["digest"]


def frame_digest(frame: pd.DataFrame) -> bytes:
    """Content hash of a table that survives a GeoPackage round trip (dtypes may widen, values may not change)."""
    digest = hashlib.sha256()
    digest.update(repr((frame.index.name, sorted(map(str, frame.columns)), len(frame))).encode())
    digest.update(_column_bytes(frame.index.to_series()))
    for column in sorted(frame.columns, key=str):
        digest.update(str(column).encode())
        digest.update(_column_bytes(frame[column]))
    return digest.digest()


def _column_bytes(series: pd.Series) -> bytes:
    if isinstance(series.dtype, gpd.array.GeometryDtype):
        return b"".join(shapely.to_wkb(np.asarray(series.values), output_dimension=2, include_srid=False)
                        .astype(object))
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return np.nan_to_num(series.to_numpy(dtype="float64", na_value=np.nan), nan=-1.2345e300).tobytes()
    text = series.astype(object).where(series.notna(), "")
    return "\x1f".join(map(str, text)).encode()


def save_twin(twin: Twin, folder: str | Path) -> Path:
    """Write a twin folder (layers and households in a GeoPackage, each street network's nodes and edges as
    GeoParquet, optional GeoTIFFs and timetable, twin.json); written aside, then moved into place.
    twin.json records every file's sha256, which :func:`read_twin` checks. Raises OutputError (one line) when the
    folder cannot be written (read-only, a file, disk full)."""
    with writing(folder), staged_folder(folder) as staging:
        gpkg = staging / "layers.gpkg"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, layer in twin.layers.items():
                pyogrio.write_dataframe(layer.reset_index(), gpkg, layer=name, promote_to_multi=False)
            pyogrio.write_dataframe(twin.households.reset_index(), gpkg, layer="households")
        for mode, net in twin.networks.items():
            nodes, edges = network_frames(net)
            edges["factor"] = twin.travel_time_factors(mode)
            nodes.to_parquet(staging / f"network_{mode}_nodes.parquet", index=False)
            lines = (edges.geom_type == "LineString").all()  # GeoArrow's native lines read fastest; else WKB
            edges.to_parquet(staging / f"network_{mode}_edges.parquet", index=False,
                             geometry_encoding="geoarrow" if lines else "WKB")
        for name, grid in (("terrain", twin.terrain), ("flood_depth", twin.flood_depth)):
            if grid is not None:
                grid.rio.to_raster(staging / f"{name}.tif")
        if twin.timetable is not None:
            write_timetable(twin.timetable, staging / "timetable.npz")
        manifest = {
            "format_version": FORMAT_VERSION,
            "name": twin.name,
            "crs": twin.crs,
            "fingerprint": twin.fingerprint(),
            "layers": {name: layer.index.name for name, layer in twin.layers.items()},
            "networks": {mode: net.attrs for mode, net in twin.networks.items()},
            "provenance": {k: dict(v) for k, v in twin.provenance.items()},
            # Checked on every load: a hash of the bytes costs milliseconds, the fingerprint a tenth of a second.
            "files": {path.name: sha256_file(path) for path in sorted(staging.iterdir()) if path.is_file()},
        }
        (staging / "twin.json").write_text(json.dumps(manifest, indent=2, default=str))
    return Path(folder)


def read_twin(folder: str | Path) -> Twin:
    """Load a twin folder written by :func:`save_twin`, after checking its files against the sha256 recorded in
    twin.json (a folder written before hashes were recorded is checked against its fingerprint instead).
    Raises DataError for a twin.json that is missing, unreadable or incomplete, TwinError for changed files."""
    folder = Path(folder)
    manifest = _read_manifest(folder)
    for name, expected in manifest.get("files", {}).items():
        found = sha256_file(folder / name)
        if found is None:
            raise TwinError(f"{folder / name}: missing, though twin.json lists it; the folder was changed or "
                            "damaged; rebuild it with sandbox build")
        if found != expected:
            raise TwinError(f"{folder / name}: does not match the hash recorded in twin.json; the folder was "
                            "changed or damaged; rebuild it with sandbox build")
    twin = _read_contents(folder, manifest)
    if "files" not in manifest and "fingerprint" in manifest and twin.fingerprint() != manifest["fingerprint"]:
        raise TwinError(f"{folder}: its content does not match the fingerprint recorded in twin.json; the folder "
                        "was changed or damaged; rebuild it with sandbox build")
    return twin


_MANIFEST_KEYS = {"format_version": int, "name": str, "crs": str, "layers": dict, "networks": dict}
_OPTIONAL_KEYS = {"fingerprint": str, "provenance": dict, "files": dict}


def _read_manifest(folder: Path) -> dict[str, Any]:
    """twin.json, checked for the keys and types the reader needs; each problem is one line."""
    path = folder / "twin.json"
    if not path.is_file():
        raise DataError(f"{folder}: not a twin folder (no twin.json); expected a folder written by save_twin "
                        "or `sandbox build`")
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not text (binary content); expected the JSON written by save_twin; rebuild the "
                        "twin folder") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: line {exc.lineno}: invalid JSON; rebuild the twin folder") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}); rebuild the twin folder") from exc
    if not isinstance(manifest, dict):
        raise DataError(f"{path}: a JSON {type(manifest).__name__}, not an object; expected the JSON written by "
                        "save_twin; rebuild the twin folder")
    if "format_version" in manifest and manifest["format_version"] != FORMAT_VERSION:
        raise DataError(f"{path}: format_version {manifest.get('format_version')!r} is not "
                        f"{FORMAT_VERSION}; rebuild the twin with this version of sandbox")
    missing = [key for key in _MANIFEST_KEYS if key not in manifest]
    if missing:
        raise DataError(f"{path}: no {', '.join(missing)}; expected the keys save_twin writes "
                        f"({', '.join(_MANIFEST_KEYS)}); rebuild the twin folder")
    wrong = [f"{key} is a {type(manifest[key]).__name__}, expected a {kind.__name__}"
             for key, kind in {**_MANIFEST_KEYS, **_OPTIONAL_KEYS}.items()
             if key in manifest and not isinstance(manifest[key], kind)]
    if not wrong:
        wrong += [f"files[{name!r}] is not a hash" for name, value in manifest.get("files", {}).items()
                  if not isinstance(value, str) or Path(name).name != name]
        wrong += [f"layers[{name!r}] is not a column name" for name, index in manifest["layers"].items()
                  if not isinstance(index, str)]
        wrong += [f"networks[{mode!r}] is not an object" for mode, attrs in manifest["networks"].items()
                  if not isinstance(attrs, dict)]
    if wrong:
        raise DataError(f"{path}: {'; '.join(wrong)}; rebuild the twin folder")
    return manifest


def _read_contents(folder: Path, manifest: dict[str, Any]) -> Twin:
    gpkg = folder / "layers.gpkg"
    crs = manifest["crs"]
    try:
        layers = {}
        for name, index_name in manifest["layers"].items():
            frame = pyogrio.read_dataframe(gpkg, layer=name, use_arrow=True).set_index(index_name)
            layers[name] = frame.set_crs(crs, allow_override=True)
        households = pyogrio.read_dataframe(gpkg, layer="households", read_geometry=False, use_arrow=True)
        households = pd.DataFrame(households).set_index("household_id")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, KeyError) as exc:
        raise DataError(f"{gpkg}: cannot read the twin's layers ({exc}); rebuild the twin folder") from exc
    networks, factors = {}, {}
    for mode, attrs in manifest["networks"].items():
        path = folder / f"network_{mode}_edges.parquet"
        try:
            nodes = pd.read_parquet(folder / f"network_{mode}_nodes.parquet")
            edges = gpd.read_parquet(path)
            networks[mode] = network_from_frames(nodes, edges, crs=crs, attrs=attrs)
        except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
            raise DataError(f"{path}: cannot read the {mode} network ({exc}); rebuild the twin folder") from exc
        if (edges["factor"] != 1).any():
            factors[mode] = edges["factor"].to_numpy(float)
    grids = {}
    for name in ("terrain", "flood_depth"):
        if (folder / f"{name}.tif").is_file():
            from .terrain import read_dem

            grids[name] = read_dem(folder / f"{name}.tif").rename(name if name != "terrain" else "elevation_m")
    timetable = read_timetable(folder / "timetable.npz") if (folder / "timetable.npz").is_file() else None
    return Twin(name=manifest["name"], crs=crs, layers=layers, households=households, networks=networks,
                provenance=manifest.get("provenance", {}), edge_factors=factors, timetable=timetable, **grids)
