"""Statistical disclosure control: no published count of 1 to k - 1 households or people, and no published total,
margin or pair of numbers from which such a count can be worked out.

The rule (the README's "What is hidden, and why"):

1. *Primary*: a count of 1 to ``k`` - 1 is hidden. A zone is hidden for a group when it holds 1 to ``k`` - 1 of the
   group's households on either side of a comparison, or when its households change between the sides by 1 to
   ``k`` - 1 entering or leaving (or its households or residents by a net 1 to ``k`` - 1).
2. *Complementary*: for every set of cells whose total is published or can be worked out (a group's zones, a
   partition of a group's households), while the hidden cells of the set are one alone, or sum to less than ``k``
   (or to no more than their number), the smallest shown non-zero cell of the set is hidden too; when none is left
   the set's total is hidden instead.
3. A total is published only when it is safe: at least ``k`` and none of its set's hidden cells follows from it.

Every function here works on plain arrays or xarray objects; ``compare`` and the outputs apply them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

DEFAULT_K = 5


def small(counts: Any, k: int = DEFAULT_K) -> Any:
    """Where a count (array, DataArray or number) is between 1 and ``k`` - 1 in size: a count that would single
    out a few households or people. Negative counts (changes) count by their size; NaN and zero are not small."""
    size = abs(counts)
    return (size > 0) & (size < k)


def people(count: int, k: int = DEFAULT_K) -> str:
    """A count of people or households as a note says it: ``fewer than k`` for 1 to ``k`` - 1, else the number."""
    return f"fewer than {k}" if small(count, k) else f"{int(count):,}"


def hidden_cells(*households: xr.DataArray, k: int = DEFAULT_K) -> xr.DataArray:
    """(group, zone) cells to hide first: those where any of the given household counts (one per side of a
    comparison) is between 1 and ``k`` - 1. An empty cell reveals no one; a small one on either side would."""
    hidden = None
    for counts in households:
        tiny = small(counts, k)
        hidden = tiny if hidden is None else hidden | tiny
    return hidden


def hide_small_counts(counts: xr.DataArray, *, k: int = DEFAULT_K) -> xr.DataArray:
    """A count of households or persons with every value between 1 and ``k`` - 1 hidden (NaN)."""
    return counts.where(~small(counts, k)).assign_attrs(counts.attrs)


def complete(hidden: np.ndarray, sets: Sequence[tuple[np.ndarray, np.ndarray]], *, k: int = DEFAULT_K,
             candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Complementary suppression: ``hidden`` (rows, cells) grown until no hidden cell of any set follows from the
    set's published total.

    Each set is ``(values, public)``: its cells' values over (rows, cells), NaN where a cell is not a member, and
    per row whether the set's total is published (or can be worked out). While a set with a published total has
    hidden cells that are one alone, sum to less than ``k``, or sum to no more than their number (all ones), the
    smallest shown non-zero member allowed by ``candidates`` is hidden too; a set with no such cell left has its
    total hidden instead. Vectorised over rows; a cell hidden for one set is hidden for all.

    Returns the hidden cells and, per set and row, whether its total must be hidden.
    """
    hidden = np.array(hidden, dtype=bool, copy=True)
    lost = np.zeros((len(sets), hidden.shape[0]), dtype=bool)
    allowed = np.ones_like(hidden) if candidates is None else np.asarray(candidates, dtype=bool)
    members = [np.isfinite(values) for values, _ in sets]
    sizes = [np.where(member, np.abs(np.nan_to_num(values)), 0.0) for (values, _), member in zip(sets, members)]
    for _ in range(hidden.shape[-1] + 1):
        grown = False
        for i, ((_, public), member, size) in enumerate(zip(sets, members, sizes)):
            inside = hidden & member
            number = inside.sum(axis=-1)
            total = np.where(inside, size, 0.0).sum(axis=-1)
            exposed = np.asarray(public, bool) & ~lost[i] & (number > 0) & (
                (number == 1) | (total < k) | (total <= number))
            if not exposed.any():
                continue
            score = np.where(member & ~hidden & allowed & (size > 0), size, np.inf)
            pick = score.argmin(axis=-1)
            found = np.isfinite(score.min(axis=-1))
            rows = np.flatnonzero(exposed & found)
            hidden[rows, pick[rows]] = True
            lost[i] |= exposed & ~found
            grown = True
        if not grown:
            break
    return hidden, lost


def zone_cells(households: np.ndarray, residents: np.ndarray, *, k: int = DEFAULT_K) -> np.ndarray:
    """The (group, zone) cells one twin's zone table must hide (arrays over (group, zone)): those with 1 to ``k`` - 1
    households of the group, then complementary zones until the group's totals (published by ``sandbox info``)
    less the shown zones reveal no single zone and no fewer than ``k`` households or residents."""
    public = np.ones(households.shape[0], bool)
    cells, _ = complete(small(households, k), [(households, public), (residents, public)], k=k)
    return cells


def zone_suppression(households: xr.DataArray, residents: xr.DataArray, *, k: int = DEFAULT_K) -> xr.DataArray:
    """:func:`zone_cells` of a measure's ``households`` and ``residents`` (group, zone) as a DataArray."""
    households = households.transpose("group", "zone")
    cells = zone_cells(households.to_numpy(), residents.transpose("group", "zone").to_numpy(), k=k)
    return xr.DataArray(cells, coords={"group": households["group"].to_numpy(),
                                       "zone": households["zone"].to_numpy()}, dims=("group", "zone"))


@dataclass(frozen=True)
class Flows:
    """How a comparison's households move, per group: by zone (``entering``, ``leaving``: households of the group
    on one side only, over (group, zone)) and area-wide (over group): ``displaced`` and ``new`` (households on one
    twin only), ``entered`` and ``left`` (households on both twins that join or leave the group, e.g. by
    ageing), and the same in people (``residents_*``: members of the group gained or lost, stayers included)."""

    entering: np.ndarray
    leaving: np.ndarray
    displaced: np.ndarray
    new: np.ndarray
    entered: np.ndarray
    left: np.ndarray
    residents_in: np.ndarray
    residents_out: np.ndarray

    def totals_hidden(self, k: int = DEFAULT_K) -> tuple[np.ndarray, np.ndarray]:
        """Per group: whether the scenario's total of households, and its total of residents, must stay
        unpublished, because the baseline's (published) against it would give away 1 to ``k`` - 1 households (or
        people) who left or joined the group."""
        households = (self.displaced, self.new, self.entered, self.left,
                      self.new + self.entered - self.displaced - self.left)
        residents = (self.residents_in, self.residents_out, self.residents_in - self.residents_out)
        return (np.logical_or.reduce([small(part, k) for part in households]),
                np.logical_or.reduce([small(part, k) for part in residents]))


def household_flows(weight_before: np.ndarray, zone_before: np.ndarray, ids_before: np.ndarray,
                    weight_after: np.ndarray, zone_after: np.ndarray, ids_after: np.ndarray,
                    n_zones: int) -> Flows:
    """:class:`Flows` from household-level data: each side's ``weight`` (group, household: members of the group),
    zone position per household (-1: none) and household ids; households are matched by id."""
    ids = np.union1d(ids_before, ids_after)
    n_groups = weight_before.shape[0]
    before = np.zeros((n_groups, len(ids)))
    after = np.zeros((n_groups, len(ids)))
    at_before = np.searchsorted(ids, ids_before)
    at_after = np.searchsorted(ids, ids_after)
    before[:, at_before] = weight_before
    after[:, at_after] = weight_after
    zone_b = np.full(len(ids), -1)
    zone_a = np.full(len(ids), -1)
    zone_b[at_before] = zone_before
    zone_a[at_after] = zone_after
    on_both = np.zeros(len(ids), bool)
    on_both[np.intersect1d(at_before, at_after)] = True
    was, now = before > 0, after > 0
    moved = zone_a != zone_b
    entering = now & (~was | moved[None, :])
    leaving = was & (~now | moved[None, :])

    def by_zone(flags: np.ndarray, zone: np.ndarray) -> np.ndarray:
        keep = zone >= 0
        rows = [np.bincount(zone[keep], weights=f[keep], minlength=n_zones) for f in flags.astype(float)]
        return np.array(rows).reshape(n_groups, n_zones)

    gained = np.maximum(after - before, 0).sum(axis=1)
    lost = np.maximum(before - after, 0).sum(axis=1)
    return Flows(entering=by_zone(entering, zone_a), leaving=by_zone(leaving, zone_b),
                 displaced=(was & ~on_both).sum(axis=1), new=(now & ~on_both).sum(axis=1),
                 entered=(now & ~was & on_both).sum(axis=1), left=(was & ~now & on_both).sum(axis=1),
                 residents_in=gained, residents_out=lost)


def changed_cells(flows: Flows, households: Sequence[np.ndarray], residents: Sequence[np.ndarray], *,
                  k: int = DEFAULT_K) -> np.ndarray:
    """(group, zone) cells whose published counts, baseline against scenario (``households`` and ``residents``,
    one (group, zone) array per side), would single out a few households: 1 to ``k`` - 1 households entering or
    leaving the group there, or households or residents changing by a net 1 to ``k`` - 1."""
    return (small(flows.entering, k) | small(flows.leaving, k) | small(households[1] - households[0], k)
            | small(residents[1] - residents[0], k))


def suppress(ds: xr.Dataset, *, k: int = DEFAULT_K) -> xr.Dataset:
    """One measure's result as it may be exported: household-level variables dropped, every zonal value of a
    (zone, group) cell hidden by :func:`zone_suppression` (1 to ``k`` - 1 households, and the complementary zones
    that keep it from being worked out from the group's total), and a ``suppressed`` flag per cell."""
    hidden = zone_suppression(ds["households"], ds["residents"], k=k)
    out = ds.drop_vars([name for name, var in ds.data_vars.items() if "household" in var.dims])
    out = out.drop_vars("household", errors="ignore")
    for name, var in out.data_vars.items():
        if "zone" in var.dims:
            out[name] = var.where(~hidden).assign_attrs(var.attrs)
    out["suppressed"] = hidden.assign_attrs(long_name=f"hidden: fewer than {k} households, or hidden with such a "
                                                      "zone so that it cannot be worked out", units="1")
    out.attrs["k"] = k
    return out
