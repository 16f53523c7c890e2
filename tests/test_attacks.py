"""An attacker with only the published files: every example scenario's run folder (summary.json, indicators.csv,
zones.parquet, results.nc, layers.gpkg, report.html), access.csv and what `sandbox info` prints (the twin's totals)
must give away no hidden count of 1 to k - 1 households or people.

The attacks (README, "What is hidden, and why"):

- margins: the equity counts add up to the group's households (gaining + losing + unchanged + displaced = the
  baseline's, gaining + losing + unchanged + new = the scenario's), displaced and new are among the effects, the
  zones add up to the group's totals, the residents of all change by those who came and went;
- zones: the twin's totals minus the shown zones, per group and side, with every indicator, file and run on the
  same twin pooled (a baseline value shown anywhere is known everywhere);
- pairs: baseline against scenario, per zone and for the group's residents;
- shares: a hidden count recovered as share x residents, or a count of those reaching as residents - not reaching;
- notes: counts in notes, warnings and summary.json.

Each attack writes linear equations over the hidden cells; a cell is recovered when the equations fix it (it has no
component in their null space). A finding is a recovered value of 1 to k - 1 that is the true one (the same
comparison with nothing hidden), so an identity that does not hold (ageing moves households between groups) finds
nothing by accident.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import pytest
import xarray as xr

import sandbox
from sandbox import access
from sandbox.compare import EQUITY, compare
from sandbox.output.folders import write_access
from sandbox.output.summary import summarise
from sandbox.privacy import small
from sandbox.results import BASELINE, SCENARIO, indicator_names
from sandbox.run import run_scenario
from sandbox.scenarios.load import load_scenario, parse_scenario
from tests.tiny import lonlat, node_xy, tiny_twin

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))
SIDES2 = (BASELINE, SCENARIO)
# The twin's totals of each group, as `sandbox info` prints them (twin.summary()["households"]).
RESIDENTS_KEY = {"all": "residents", "elderly": "residents_65plus", "elderly_alone": "residents",
                 "children": "residents_under_18"}
EFFECT = {"all": "households", "elderly": "with_elderly", "elderly_alone": "elderly_alone", "children": "with_children"}
NOTE_COUNT = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+|\d+) "
                        r"(?:households?|residents|with elderly|elderly alone|elderly couple|family|other)\b")
AGED = re.compile(r"aged 65\+ ([\d,]+|hidden|fewer than \d+) -> ([\d,]+|hidden|fewer than \d+)")


@dataclass
class Published:
    """What the attacker reads: the results (open_run, completed from the CSV, GeoParquet and GeoPackage), the
    summary, the report's text and the twin's totals."""

    results: xr.DataTree
    summary: dict[str, Any]
    totals: dict[str, dict[str, int]]
    texts: list[str] = field(default_factory=list)
    zones: dict[tuple[str, str, str], pd.Series] = field(default_factory=dict)  # (variable, side, group) -> by zone
    zone_ids: np.ndarray = field(default_factory=lambda: np.array([]))


@dataclass(frozen=True)
class Finding:
    attack: str
    what: str
    value: int


# --- reading ------------------------------------------------------------------------------------------------------


def read_folder(folder: Path, totals: dict[str, dict[str, int]]) -> Published:
    """A run folder as the attacker has it; every zone count shown in any of its files is known."""
    results = sandbox.open_run(folder)
    summary = json.loads((folder / "summary.json").read_text())
    report = re.sub(r"<script.*?</script>", " ", (folder / "report.html").read_text(), flags=re.DOTALL)
    published = Published(results, summary, totals, texts=[re.sub(r"<[^>]+>", " ", report)])
    zone_counts(published)
    groups = [str(g) for g in results[indicator_names(results)[0]]["group"].to_numpy()]
    table = pd.read_csv(folder / "indicators.csv")
    rows = table[table["variable"].isin(["households", "residents"]) & table["zone"].notna()
                 & table["side"].isin(SIDES2)]
    for (variable, side, group), part in rows.groupby(["variable", "side", "group"]):
        learn(published, (variable, side, group), part.groupby("zone")["value"].max())
    parquet = pd.read_parquet(folder / "zones.parquet", columns=["variable", "group", "zone", *SIDES2])
    parquet = parquet[parquet["variable"].isin(["households", "residents"])]
    for (variable, group), part in parquet.groupby(["variable", "group"]):
        for side in SIDES2:
            learn(published, (variable, side, group), part.groupby("zone")[side].max())
    for key in indicator_names(results):
        for side in SIDES2:
            columns = [f"{variable}_{group}" for variable in ("households", "residents") for group in groups]
            layer = pyogrio.read_dataframe(folder / "layers.gpkg", layer=f"{key}_{side}", read_geometry=False,
                                           columns=["zone_id", *columns]).set_index("zone_id")
            for group in groups:
                for variable in ("households", "residents"):
                    learn(published, (variable, side, group), layer[f"{variable}_{group}"].astype(float))
    return published


def in_memory(results: xr.DataTree, summary: dict[str, Any], totals: dict[str, dict[str, int]]) -> Published:
    published = Published(results, summary, totals, texts=[])
    zone_counts(published)
    return published


def zone_counts(published: Published) -> None:
    for key in indicator_names(published.results):
        node = published.results[key].to_dataset()
        groups = [str(g) for g in node["group"].to_numpy()]
        for variable in ("households", "residents"):
            for side in SIDES2:
                values = node[variable].sel(side=side).transpose("group", "zone").to_numpy()
                for group, row in zip(groups, values):
                    learn(published, (variable, side, group), pd.Series(row, index=node["zone"].to_numpy()))


def learn(published: Published, key: tuple[str, str, str], values: pd.Series) -> None:
    """Zone counts known to the attacker: the first shown value of each zone, from any file or run."""
    if not published.zone_ids.size:
        published.zone_ids = zones_of(published.results)
    values = pd.Series(values).reindex(published.zone_ids).to_numpy(dtype=float)
    if key not in published.zones:
        published.zones[key] = pd.Series(values, index=published.zone_ids)
        return
    known = published.zones[key]
    known[:] = np.where(known.isna().to_numpy(), values, known.to_numpy())


def zones_of(results: xr.DataTree) -> np.ndarray:
    return results[indicator_names(results)[0]]["zone"].to_numpy()


def pool_baselines(runs: Iterable[Published]) -> None:
    """Runs on one twin share the baseline: a baseline zone count shown by one is known to all."""
    runs = list(runs)
    for key in {key for run in runs for key in run.zones if key[1] == BASELINE}:
        for run in runs:
            for other in runs:
                if key in other.zones and key in run.zones:
                    learn(run, key, other.zones[key])


# --- solving --------------------------------------------------------------------------------------------------------


class Equations:
    """Linear equations over known numbers and unknown (hidden) cells, each named."""

    def __init__(self) -> None:
        self.rows: list[tuple[dict[str, float], float]] = []

    def add(self, terms: Iterable[tuple[float, Any]], equals: Any = 0.0) -> None:
        """sum(coefficient * term) = equals; a term or ``equals`` is a number (known), a name (unknown) or None
        (unknown and of no interest: the equation is dropped)."""
        unknown: dict[str, float] = {}
        constant = 0.0
        for coefficient, term in [*terms, (-1.0, equals)]:
            if term is None:
                return
            if isinstance(term, str):
                unknown[term] = unknown.get(term, 0.0) + coefficient
            elif np.isnan(term):
                return
            else:
                constant += coefficient * float(term)
        if unknown:
            self.rows.append((unknown, -constant))

    def solved(self) -> dict[str, float]:
        """The unknowns the equations fix, with their values."""
        names = sorted({name for terms, _ in self.rows for name in terms})
        if not names:
            return {}
        index = {name: i for i, name in enumerate(names)}
        matrix = np.zeros((len(self.rows), len(names)))
        rhs = np.array([value for _, value in self.rows])
        for row, (terms, _) in enumerate(self.rows):
            for name, coefficient in terms.items():
                matrix[row, index[name]] = coefficient
        _, singular, vt = np.linalg.svd(matrix)
        rank = int((singular > 1e-9 * max(1.0, singular.max(initial=0))).sum())
        null = vt[rank:].T
        values = np.linalg.lstsq(matrix, rhs, rcond=None)[0]
        fixed = np.all(np.abs(null) < 1e-7, axis=1) if null.size else np.ones(len(names), bool)
        return {name: float(values[i]) for name, i in index.items() if fixed[i]}


def cell(value: float, name: str) -> float | str:
    """A published value, or the name of the unknown it hides."""
    return name if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


# --- the attacks ----------------------------------------------------------------------------------------------------


def attack(published: Published, truth: xr.DataTree, k: int) -> list[Finding]:
    """Every attack on one run's published numbers; findings are recovered hidden values of 1 to k - 1 that are
    true (``truth``: the same comparison with nothing hidden)."""
    findings = []
    recovered: dict[str, tuple[str, float]] = {}
    summary = published.summary
    effects = summary.get("effects", {})
    ageing = any("age_population" in note for note in summary.get("interventions", []))
    keys = indicator_names(published.results)
    groups = [str(g) for g in published.results[keys[0]]["group"].to_numpy()]
    zones = zones_of(published.results)

    def effect(name: str) -> float | str:
        value = effects.get(name, 0)
        return name if value == "suppressed" else float(value)

    for group in groups:
        eq = Equations()
        twin = published.totals.get(group, {})
        households_total = twin.get("households")
        residents_total = twin.get(RESIDENTS_KEY.get(group, "residents"))
        shown = [float(published.results[key]["group_residents"].sel(side=SCENARIO, group=group)) for key in keys]
        residents_after = cell(max((v for v in shown if np.isfinite(v)), default=np.nan), f"total:residents:{group}")
        households_after = f"total:households:{group}"
        # The zones add up to the group's totals: the twin's today, the scenario's (unknown unless published).
        for variable, today, after in (("households", households_total, households_after),
                                       ("residents", residents_total, residents_after)):
            for side, total in ((BASELINE, today), (SCENARIO, after)):
                eq.add([(1.0, cell(v, f"zone:{variable}:{side}:{group}:{z}"))
                        for z, v in published.zones[(variable, side, group)].items()], total)
        if group == "elderly_alone":  # one member per household: households and residents are the same numbers
            for side in SIDES2:
                for z in zones:
                    eq.add([(1.0, cell(published.zones[("households", side, group)][z],
                                       f"zone:households:{side}:{group}:{z}"))],
                           cell(published.zones[("residents", side, group)][z], f"zone:residents:{side}:{group}:{z}"))
            eq.add([(1.0, households_after)], residents_after)
        # The equity counts partition the group's households; displaced and new are effects too.
        displaced = effect(f"displaced_{EFFECT[group]}") if group in EFFECT else f"displaced:{group}"
        new = effect(f"added_{EFFECT[group]}") if group in EFFECT else f"new:{group}"
        for key in keys:
            node = published.results[key].to_dataset().sel(group=group)
            counts = {what: cell(float(node[what]), f"{key}:{what}:{group}") for what in EQUITY}
            eq.add([(1.0, counts["displaced"])], displaced)
            eq.add([(1.0, counts["new"])], new)
            staying = [(1.0, counts[w]) for w in ("gaining", "losing", "unchanged")]
            if not ageing:  # nobody joins or leaves a group by ageing
                eq.add([*staying, (1.0, displaced)], households_total)
            eq.add([*staying, (1.0, new)], households_after)
        if group == "all" and not ageing:  # the residents of all change by those who came and went
            eq.add([(1.0, residents_after), (-1.0, effect("added_residents")), (1.0, effect("displaced_residents"))],
                   residents_total)
        for name, value in eq.solved().items():
            recovered[name] = ("zones" if name.startswith("zone:") else "margins", value)

    for name, (kind, value) in recovered.items():
        true = true_value(name, truth, published)
        if true is not None and round(value) == true and small(true, k):
            findings.append(Finding(kind, name, int(true)))

    # pairs: baseline against scenario, per zone and for the group's residents
    for group in groups:
        for variable in ("households", "residents"):
            before = published.zones[(variable, BASELINE, group)]
            after = published.zones[(variable, SCENARIO, group)]
            for z in zones:
                change = after[z] - before[z]
                if np.isfinite(change) and small(change, k):
                    findings.append(Finding("pairs", f"{variable}:{group}:{z}", int(change)))
        for key in keys:
            residents = published.results[key]["group_residents"].sel(group=group)
            change = float(residents.sel(side=SCENARIO) - residents.sel(side=BASELINE))
            if np.isfinite(change) and small(change, k):
                findings.append(Finding("pairs", f"group_residents:{group}", int(change)))

    # the flood table: those whose home floods are among the stranded
    for group, row in (summary.get("flood") or {}).get("groups", {}).items():
        for what in ("households", "residents"):
            flooded, stranded = row[f"{what}_home_flooded"], row[f"{what}_stranded"]
            if isinstance(flooded, int) and isinstance(stranded, int) and small(stranded - flooded, k):
                findings.append(Finding("pairs", f"flood:{group}:{what} stranded with a dry home", stranded - flooded))

    # shares: count = share x residents; reaching = residents - not reaching; and the reach identity
    for key in keys:
        node = published.results[key].to_dataset()
        for group in groups:
            part = node.sel(group=group)
            still = [float(truth[key][name].sel(group=group)) == 0 for name in ("displaced", "new")]
            for minutes in part["minutes"].to_numpy():
                for side in SIDES2:
                    residents = float(part["group_residents"].sel(side=side))
                    share = float(part["share_not_reaching"].sel(side=side, minutes=minutes))
                    count = float(part["residents_not_reaching"].sel(side=side, minutes=minutes))
                    true = float(truth[key]["residents_not_reaching"].sel(side=side, minutes=minutes, group=group))
                    derived = np.round(share * residents) if np.isnan(count) else count
                    if np.isfinite(residents) and np.isfinite(derived):
                        for value, what in ((derived, "not reaching"), (residents - derived, "reaching")):
                            if small(value, k) and (what == "reaching" or derived == true):
                                findings.append(Finding("shares", f"{key}:{group}:{minutes:g}:{side}:{what}",
                                                        int(value)))
                if "share_unreachable" in part:
                    for side in SIDES2:
                        residents = float(part["group_residents"].sel(side=side))
                        value = np.round(float(part["share_unreachable"].sel(side=side)) * residents) \
                            if np.isfinite(residents) else np.nan
                        if np.isfinite(value) and (small(value, k) or small(residents - value, k)):
                            findings.append(Finding("shares", f"{key}:{group}:{side}:unreachable", int(value)))
                if all(still) and not ageing:
                    eq = Equations()
                    terms = [(1.0, cell(float(part["residents_not_reaching"].sel(side=SCENARIO, minutes=minutes)),
                                        "s")),
                             (-1.0, cell(float(part["residents_not_reaching"].sel(side=BASELINE, minutes=minutes)),
                                         "b")),
                             (-1.0, cell(float(part["residents_losing_reach"].sel(minutes=minutes)), "lose")),
                             (1.0, cell(float(part["residents_gaining_reach"].sel(minutes=minutes)), "gain"))]
                    eq.add(terms)
                    names = {"s": ("residents_not_reaching", SCENARIO), "b": ("residents_not_reaching", BASELINE),
                             "lose": ("residents_losing_reach", None), "gain": ("residents_gaining_reach", None)}
                    for name, value in eq.solved().items():
                        variable, side = names[name]
                        true_ = truth[key][variable].sel(group=group, minutes=minutes)
                        true_ = float(true_.sel(side=side) if side else true_)
                        if round(value) == true_ and small(true_, k):
                            findings.append(Finding("shares", f"{key}:{group}:{minutes:g}:{variable}", int(true_)))

    findings += note_findings(published, k)
    return findings


def true_value(name: str, truth: xr.DataTree, published: Published) -> float | None:
    """The true value behind an unknown's name (None: not a published cell)."""
    parts = name.split(":")
    if parts[0] == "zone":
        _, variable, side, group, zone = parts
        node = truth[indicator_names(truth)[0]]
        return float(node[variable].sel(side=side, group=group, zone=int(zone)))
    if parts[0] == "total":
        _, variable, group = parts
        node = truth[indicator_names(truth)[0]]
        if variable == "residents":
            return float(node["group_residents"].sel(side=SCENARIO, group=group))
        return float(node["households"].sel(side=SCENARIO, group=group).sum())
    if parts[0] in truth.children and parts[1] in EQUITY:
        return float(truth[parts[0]][parts[1]].sel(group=parts[2]))
    if parts[0].startswith(("displaced_", "added_")):
        return None  # checked with the truth of the equity counts of the same group
    return None


def note_findings(published: Published, k: int) -> list[Finding]:
    """Counts of people or households in notes, warnings, summary.json and the report's text."""
    findings = []
    summary = published.summary
    texts = [*summary.get("interventions", []), *summary.get("warnings", []), *published.texts]
    for text in texts:
        for match in NOTE_COUNT.finditer(text):
            value = int(match.group(1).replace(",", ""))
            if small(value, k):
                findings.append(Finding("notes", match.group(0), value))
        for match in AGED.finditer(text):
            before, after = (m.replace(",", "") for m in match.groups())
            if before.isdigit() and after.isdigit() and small(int(after) - int(before), k):
                findings.append(Finding("notes", match.group(0), int(after) - int(before)))

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}/{key}")
        elif isinstance(value, bool):
            return
        elif isinstance(value, int) and counts_people(path) and small(value, k):
            findings.append(Finding("notes", path, value))

    walk({key: summary.get(key) for key in ("effects", "indicators", "flood")}, "summary")
    return findings


def counts_people(path: str) -> bool:
    last = path.rsplit("/", 1)[-1]
    if re.fullmatch(r"\d+(\.\d+)?|baseline|scenario", last):
        last = [p for p in path.split("/") if not re.fullmatch(r"\d+(\.\d+)?|baseline|scenario", p)][-1]
    return last in EQUITY or any(word in last for word in ("households", "residents", "elderly", "children"))


def access_findings(table: pd.DataFrame, ds: xr.Dataset, totals: dict[str, dict[str, int]], group: str,
                    k: int) -> list[Finding]:
    """access.csv: the twin's totals minus the shown zones, per count."""
    findings = []
    for variable, total in (("households", totals[group]["households"]),
                            ("residents", totals[group][RESIDENTS_KEY[group]])):
        eq = Equations()
        column = table.set_index("zone_id")[f"{variable}_{group}"].astype(float)
        eq.add([(1.0, cell(v, str(z))) for z, v in column.items()], total)
        truth = ds[variable].sel(group=group)
        for zone, value in eq.solved().items():
            true = float(truth.sel(zone=int(zone)))
            if round(value) == true and small(true, k):
                findings.append(Finding("zones", f"access:{variable}:{group}:{zone}", int(true)))
    return findings


def run_truth(run: Any) -> xr.DataTree:
    """The run's comparison with nothing hidden (k = 1): the attacker's referee, never published."""
    before = xr.DataTree.from_dict({key: pair[0] for key, pair in run.households.items()})
    after = xr.DataTree.from_dict({key: pair[1] for key, pair in run.households.items()})
    return compare(before, after, k=1)


# --- the tests ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def published_examples(helsinki, tmp_path_factory):
    """Every example scenario run and written (the static PNG maps left out: pictures, not numbers), read back as
    the attacker has them, with the truth to referee; plus access tables for three groups."""
    out = tmp_path_factory.mktemp("attacks")
    runs = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sandbox.output.figures.write_figures", lambda *args, **kwargs: None)
        for path in SCENARIOS:
            spec = load_scenario(path)
            run = run_scenario(spec, twin=helsinki if spec.twin == "helsinki" else None)
            folder = run.write(out / spec.name)
            totals = run.baseline.summary()["households"]
            runs[spec.name] = (read_folder(folder, totals), run_truth(run), spec.outputs.k, run.baseline.name)
    by_twin: dict[str, list[Published]] = {}
    for published, _, _, twin in runs.values():
        by_twin.setdefault(twin, []).append(published)
    tables = {}
    for group in ("all", "elderly", "elderly_alone"):
        ds = access.nearest(helsinki, "care", minutes=[5, 10], groups=[group])
        folder = write_access(out / f"access-{group}", helsinki, ds, group=group, k=5)
        table = pd.read_csv(folder / "access.csv")
        tables[group] = (table, ds)
        for published in by_twin.get(helsinki.name, []):  # the baseline's zones, known to every run on the twin
            for variable in ("households", "residents"):
                learn(published, (variable, BASELINE, group),
                      table.set_index("zone_id")[f"{variable}_{group}"].astype(float))
    for group_runs in by_twin.values():
        pool_baselines(group_runs)
    return runs, tables


def test_no_attack_recovers_a_hidden_count_from_the_examples(published_examples, helsinki):
    runs, tables = published_examples
    findings = {name: attack(published, truth, k) for name, (published, truth, k, _) in runs.items()}
    totals = helsinki.summary()["households"]
    findings["access"] = [f for group, (table, ds) in tables.items()
                          for f in access_findings(table, ds, totals, group, 5)]
    leaks = {name: found for name, found in findings.items() if found}
    assert not leaks, "\n".join(f"{name}: {f.attack}: {f.what} = {f.value}" for name, found in leaks.items()
                                for f in found[:20])


def test_the_examples_hide_something_so_the_attacks_have_work(published_examples):
    runs, _ = published_examples
    hidden = sum(int(p.results[key]["suppressed"].sum()) for p, *_ in runs.values()
                 for key in indicator_names(p.results))
    assert hidden > 0


def naive_publication(run: Any, k: int) -> tuple[xr.DataTree, dict[str, Any]]:
    """The publication before complementary suppression: only counts of 1 to k - 1 (and zones holding that many
    households on either side) hidden, as the sandbox did before."""
    truth = run_truth(run)
    nodes = {"/": truth.to_dataset(inherit=False)}
    for key in indicator_names(truth):
        node = truth[key].to_dataset()
        households = node["households"]
        zones = (small(households.sel(side=BASELINE), k) | small(households.sel(side=SCENARIO), k))
        for name, var in node.data_vars.items():
            if "zone" in var.dims:
                node[name] = var.where(~zones)
        for name in (*EQUITY, "group_residents", "residents_not_reaching", "residents_losing_reach",
                     "residents_gaining_reach"):
            node[name] = node[name].where(~small(node[name], k))
        node["suppressed"] = zones
        nodes[key] = node
    tree = xr.DataTree.from_dict(nodes)
    tree.attrs["k"] = k
    effects = {name: ("suppressed" if isinstance(v, int) and small(v, k) and name != "years" else v)
               for name, v in run.plan.effects.items()}
    summary = summarise(tree, scenario=run.scenario, notes=run.plan.notes, effects=effects)
    summary["effects"] = effects
    return tree, summary


def test_a_naive_publication_leaks_and_the_real_one_does_not():
    # The tiny twin (4 households, 9 residents): building 1 (the family of four) is demolished and ten households
    # move into new flats. One household is displaced; the other three keep their way to the clinic. Published
    # with only small counts hidden (k = 2), the twin's 4 households - 3 unchanged - 0 gaining - 0 losing give the
    # 1 displaced away.
    twin = tiny_twin()
    spec = parse_scenario(f"""
schema_version: 1
name: tiny-demolition
twin: tiny
seed: 3
interventions:
  - {{type: remove_buildings, ids: [1]}}
  - {{type: add_housing, at: {lonlat(*node_xy(2, 1))}, households: 10, composition: {{other: 1.0}}}}
indicators: [{{measure: nearest, to: care, minutes: [5]}}]
groups: [all]
outputs: {{k: 2}}
""")
    run = run_scenario(spec, twin=twin)
    totals = twin.summary()["households"]
    truth = run_truth(run)
    assert int(truth["nearest-care-walk"]["displaced"].sel(group="all")) == 1
    tree, summary = naive_publication(run, k=2)
    leaks = attack(in_memory(tree, summary, totals), truth, 2)
    assert any(f.attack == "margins" and f.value == 1 for f in leaks), leaks
    real = attack(in_memory(run.results, run.summary(), totals), truth, 2)
    assert not real, real
    assert "fewer than 2 households" in " ".join(run.plan.notes)


def test_the_attacker_finds_a_single_hidden_zone_and_a_small_change():
    # Zone counts 10, 1 (hidden), 30 of a twin total of 41: the total less the shown zones is the hidden one.
    eq = Equations()
    eq.add([(1.0, 10.0), (1.0, "z1"), (1.0, 30.0)], 41.0)
    assert eq.solved() == {"z1": pytest.approx(1.0)}
    eq.add([(1.0, "z0")], None)  # an equation with an unknown of no interest is dropped
    eq = Equations()
    eq.add([(1.0, "z0"), (1.0, "z1"), (1.0, 30.0)], 41.0)
    assert eq.solved() == {}
    # Two partitions sharing cells: g + l + u + d = 100 and g + l + u + n = 97 with n = 0 shown fix d = 3.
    eq = Equations()
    eq.add([(1.0, 50.0), (1.0, "l"), (1.0, "u"), (1.0, "d")], 100.0)
    eq.add([(1.0, 50.0), (1.0, "l"), (1.0, "u"), (1.0, 0.0)], 97.0)
    assert eq.solved() == {"d": pytest.approx(3.0)}
