"""The transit mode: walk to a stop, wait, ride, transfer, walk to the door, on the twin's timetable.

A trip's time is the best of walking all the way and every ride, at each departure minute of a window; the
published time is a percentile over those departures (the median by default, as r5py reports). The walks (to and
from stops, and between stops for transfers) are searched on the twin's walking network with its closures and
floods, so a closed street lengthens them; stops a flood or a closure takes out of service are removed from the
timetable itself (``timetable.close_stops``).
"""

from __future__ import annotations

import datetime
import hashlib
import re
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pyproj import Transformer

from . import raptor, routing
from ._errors import TwinError
from .network import Candidates, StreetNetwork, joined_graph, point_candidates
from .timetable import Timetable
from .twin import Twin

WALK = "walk"
_DEPARTURE = re.compile(r"^(?:(\d{4}-\d{2}-\d{2})[T ])?([01]?\d|2[0-9]):([0-5]\d)$")
_PAIRS_PER_BATCH = 256  # sources searched at once when only some of the reached nodes are kept


class TransitOptions(BaseModel):
    """How transit trips are timed. ``departure`` is "HH:MM" on the timetable's service date, or
    "YYYY-MM-DDTHH:MM" (the date must be the timetable's); one departure every ``step_min`` from it for
    ``window_min`` minutes; the ``percentile`` of the travel times over those departures."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    departure: str = "08:00"
    window_min: float = Field(default=60, gt=0, le=24 * 60)
    step_min: float = Field(default=1, gt=0, le=60)
    percentile: float = Field(default=50, gt=0, le=100)
    max_walk_min: float = Field(default=15, ge=0, le=120)
    max_transfer_walk_min: float = Field(default=5, ge=0, le=60)
    max_transfers: int = Field(default=3, ge=0, le=10)
    max_minutes: float = Field(default=90, gt=0, le=600)

    @field_validator("departure")
    @classmethod
    def _check_departure(cls, value: str) -> str:
        if not _DEPARTURE.match(str(value).strip()):
            raise ValueError(f"'{value}' is not a time; expected HH:MM or YYYY-MM-DDTHH:MM, e.g. 2022-02-22T08:00")
        return str(value).strip()

    def window_s(self, timetable: Timetable) -> tuple[float, float]:
        """The window's first departure and end, in seconds after midnight of the timetable's service date."""
        date, hours, minutes = _DEPARTURE.match(self.departure).groups()
        if date is not None and datetime.date.fromisoformat(date) != timetable.service_date:
            raise TwinError(f"departure: {date} is not the timetable's service date {timetable.service_date}; "
                            f"use {timetable.service_date}T{hours}:{minutes} or HH:MM")
        start = int(hours) * 3600 + int(minutes) * 60
        return float(start), start + self.window_min * 60

    def departures(self, timetable: Timetable) -> np.ndarray:
        start, end = self.window_s(timetable)
        return raptor.departure_times(start, end, round(self.step_min * 60))

    def describe(self, timetable: Timetable) -> str:
        """In words, for results and reports: which percentile, window and date the times are."""
        start, end = self.window_s(timetable)
        which = "median" if self.percentile == 50 else f"{self.percentile:g}th percentile"
        return (f"{which} over departures every {self.step_min:g} min from {_clock(start)} to {_clock(end)} on "
                f"{timetable.service_date}; walks up to {self.max_walk_min:g} min to and from stops, "
                f"{self.max_transfer_walk_min:g} min between stops; at most {self.max_transfers} transfers")

    def attrs(self, timetable: Timetable) -> dict[str, Any]:
        """The options as results attributes (netCDF-safe scalars)."""
        start, _ = self.window_s(timetable)
        return {"transit_service_date": str(timetable.service_date), "transit_departure": _clock(start),
                "transit_window": f"{_clock(start)}-{_clock(start + self.window_min * 60)} on {timetable.service_date}",
                "transit_window_min": self.window_min, "transit_step_min": self.step_min,
                "transit_percentile": self.percentile, "transit_max_walk_min": self.max_walk_min,
                "transit_max_transfer_walk_min": self.max_transfer_walk_min,
                "transit_max_transfers": self.max_transfers, "transit_max_minutes": self.max_minutes,
                "transit_timetable": timetable.source, "transit_licence": timetable.licence,
                "transit_times": self.describe(timetable)}


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def timetable_of(twin: Twin) -> Timetable:
    """The twin's timetable, or a one-line TwinError saying how to get one."""
    if twin.timetable is None:
        raise TwinError(f"mode: transit needs a timetable, and twin '{twin.name}' has none; build it with "
                        "`sandbox build ... --gtfs feed.zip` (the default helsinki twin and synthetic towns have one)")
    if WALK not in twin.networks:
        raise TwinError(f"mode: transit walks to and from stops, and twin '{twin.name}' has no walk network")
    return twin.timetable


def stop_points(twin: Twin) -> np.ndarray:
    """The timetable's stops in the twin's CRS (x, y), once per twin."""
    if ("transit", "stop_xy") not in twin.cache:
        lonlat = timetable_of(twin).stop_lonlat
        to_twin = Transformer.from_crs(4326, twin.crs, always_xy=True)
        twin.cache[("transit", "stop_xy")] = np.column_stack(to_twin.transform(lonlat[:, 0], lonlat[:, 1]))
    return twin.cache[("transit", "stop_xy")]


def _walk(twin: Twin) -> tuple[StreetNetwork, np.ndarray]:
    net = twin.networks[WALK]
    return net, net.travel_times(twin.edge_factors.get(WALK))


def _stops(twin: Twin, *, arrive: bool) -> Candidates:
    key = ("transit", "stops", arrive)
    if key not in twin.cache:
        net, _ = _walk(twin)
        twin.cache[key] = point_candidates(net, stop_points(twin), arrive=arrive)
    return twin.cache[key]


def walks(twin: Twin, origins: Candidates, targets: Candidates, *, cutoff_s: float) -> pd.DataFrame:
    """Every (origin, target) pair within ``cutoff_s`` of walking on the twin's walking network with its closures:
    columns ``origin``, ``target``, ``time_s``. Origins join the network as departures, targets as arrivals
    (``point_candidates(..., arrive=True)``). The search starts from the smaller side (backwards from the targets
    when there are fewer of them), one batch of sources at a time so that memory follows what is kept."""
    net, time_s = _walk(twin)
    backwards = targets.n_points < origins.n_points
    sources, ends = (targets, origins) if backwards else (origins, targets)
    joined = joined_graph(net, sources, ends, towards_sources=backwards)
    graph = joined.weighted(time_s)
    first_end = net.n_nodes + sources.n_points
    parts = [pd.DataFrame({"source": np.zeros(0, np.int64), "end": np.zeros(0, np.int64), "time_s": np.zeros(0)})]
    for start in range(0, sources.n_points, _PAIRS_PER_BATCH):
        found = routing.reach(graph, joined.source_ids[start:start + _PAIRS_PER_BATCH], cutoff=cutoff_s)
        keep = found.node >= first_end
        parts.append(pd.DataFrame({"source": found.source[keep] + start, "end": found.node[keep] - first_end,
                                   "time_s": found.cost[keep]}))
    pairs = pd.concat(parts, ignore_index=True)
    names = {"source": "target", "end": "origin"} if backwards else {"source": "origin", "end": "target"}
    return pairs.rename(columns=names)[["origin", "target", "time_s"]]


def transit_arrays(twin: Twin, options: TransitOptions) -> raptor.TransitArrays:
    """The kernels' arrays of the twin's timetable, with footpaths between stops walked on the street network
    (within ``max_transfer_walk_min``; the feed's own transfers kept where shorter). Once per twin and limit."""
    key = ("transit", "arrays", options.max_transfer_walk_min)
    if key not in twin.cache:
        timetable = timetable_of(twin)
        pairs = walks(twin, _stops(twin, arrive=False), _stops(twin, arrive=True),
                      cutoff_s=options.max_transfer_walk_min * 60)
        pairs = pairs[pairs.origin != pairs.target]
        feed_from = np.repeat(np.arange(timetable.n_stops), np.diff(timetable.transfers_ptr))
        frame = pd.DataFrame({"a": np.r_[pairs.origin.to_numpy(), feed_from],
                              "b": np.r_[pairs.target.to_numpy(), timetable.transfers_to],
                              "s": np.r_[pairs.time_s.to_numpy(), timetable.transfers_s]})
        frame = frame.groupby(["a", "b"], as_index=False)["s"].min()
        counts = np.bincount(frame.a.to_numpy(np.int64), minlength=timetable.n_stops)
        arrays = raptor.transit_arrays(timetable)._replace(
            transfers_ptr=np.r_[0, np.cumsum(counts)].astype(np.int64),
            transfers_to=frame.b.to_numpy(np.int32), transfers_s=np.ceil(frame.s.to_numpy()).astype(np.int32))
        twin.cache[key] = arrays
    return twin.cache[key]


def travel_time_matrix(twin: Twin, origins: Candidates, targets: Candidates,
                       options: TransitOptions | None = None) -> np.ndarray:
    """Door-to-door transit travel times (s) from each origin point to each target point: (origins x targets),
    the options' percentile over their departures; ``inf`` where no trip within ``max_minutes`` exists.

    Origins must join the network as departures (``point_candidates(..., arrive=False)``), targets as arrivals.
    """
    options = options or TransitOptions()
    timetable = timetable_of(twin)
    arrays = transit_arrays(twin, options)
    walk_s = options.max_walk_min * 60
    access = walks(twin, origins, _stops(twin, arrive=True), cutoff_s=walk_s).sort_values(["origin", "target"])
    egress = _egress(twin, targets, walk_s, timetable.n_stops)
    direct = np.full((origins.n_points, targets.n_points), np.inf)
    walked = walks(twin, origins, targets, cutoff_s=options.max_minutes * 60)
    direct[walked.origin.to_numpy(np.int64), walked.target.to_numpy(np.int64)] = walked.time_s.to_numpy()
    times = raptor.percentile_matrix(
        arrays, (_ptr(access.origin, origins.n_points), access.target.to_numpy(), access.time_s.to_numpy()), direct,
        egress, options.departures(timetable),
        q=options.percentile / 100, max_rounds=options.max_transfers + 1, max_s=options.max_minutes * 60)
    return times


def _egress(twin: Twin, targets: Candidates, walk_s: float, n_stops: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The walks from every stop to the targets as the kernel reads them (per stop: targets int32, seconds float32):
    once per twin, targets and limit (a matrix to every street node reuses central Helsinki's 3 million)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (targets.point, targets.node, targets.edge, targets.leg_s, targets.share):
        digest.update(np.ascontiguousarray(part).tobytes())
    key = ("transit", "egress", digest.hexdigest(), walk_s)
    if key not in twin.cache:
        pairs = walks(twin, _stops(twin, arrive=False), targets, cutoff_s=walk_s).sort_values(["origin", "target"])
        twin.cache[key] = (_ptr(pairs.origin, n_stops), pairs.target.to_numpy(np.int32),
                           pairs.time_s.to_numpy(np.float32))
    return twin.cache[key]


def _ptr(rows: pd.Series, n: int) -> np.ndarray:
    """CSR row pointers of pairs sorted by row."""
    return np.r_[0, np.cumsum(np.bincount(rows.to_numpy(np.int64), minlength=n))].astype(np.int64)
