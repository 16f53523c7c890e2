"""Headlines and per-measure figures: what a planner reads first is true to the measure, at every threshold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sandbox.cli import app
from sandbox.run import run_scenario
from sandbox.scenarios.load import load_scenario, parse_scenario
from tests.tiny import tiny_twin

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def closure(k: int, minutes: str = "[5, 10]") -> object:
    return parse_scenario(f"""
schema_version: 1
name: tiny-closure
twin: tiny
seed: 3
interventions: [{{type: close_facility, names: [Clinic]}}]
indicators: [{{measure: nearest, to: care, minutes: {minutes}}}]
groups: [all, elderly]
outputs: {{k: {k}}}
""")


@pytest.fixture(scope="module")
def tiny():
    return tiny_twin()


def test_the_only_clinic_closing_loses_everyone_at_every_threshold(tiny):
    # Walking at 1.2 m/s: households 0, 1 and 3 (7 residents, 1 elderly) reach the clinic within 5 minutes,
    # household 2 (2 elderly) needs 500 s; closing it leaves nobody any way to care.
    summary = run_scenario(closure(k=1), twin=tiny).summary()
    item = summary["indicators"]["nearest-care-walk"]
    residents, elderly = item["groups"]["all"], item["groups"]["elderly"]
    assert residents["residents_losing_reach"] == {"5": 7, "10": 9}
    assert elderly["residents_losing_reach"] == {"5": 1, "10": 3}
    assert residents["residents_gaining_reach"] == {"5": 0, "10": 0}
    assert residents["share_reaching"]["5"] == {"baseline": pytest.approx(7 / 9, abs=1e-4), "scenario": 0.0}
    assert residents["residents_not_reaching"]["10"] == {"baseline": 0, "scenario": 9}
    # The weighted median counts the unreachable instead of dropping them; so does the share with no way.
    assert residents["median_minutes"] == {"baseline": round(250 / 60, 1), "scenario": "unreachable"}
    assert residents["share_unreachable"] == {"baseline": 0.0, "scenario": 1.0}
    assert residents["gini"]["scenario"] is None  # over those who reach one: nobody is left to compare
    first = summary["headlines"][0]
    assert first.startswith("9 residents (3 of them aged 65 or over) no longer reach a health service")
    assert "within 10 minutes on foot" in first and "100% today, 0% with the scenario" in first


def test_gains_and_losses_are_hidden_together_when_either_is_small(tiny):
    summary = run_scenario(closure(k=5), twin=tiny).summary()
    elderly = summary["indicators"]["nearest-care-walk"]["groups"]["elderly"]
    # 1 elderly resident loses within 5 minutes: a small count, and with the published change in residents not
    # reaching, the other count would give it away, so both are hidden.
    assert elderly["residents_losing_reach"]["5"] == "suppressed"
    assert elderly["residents_gaining_reach"]["5"] == "suppressed"
    assert all("1 of them" not in line and "(1 " not in line for line in summary["headlines"])


def test_loss_minus_gain_is_the_change_in_residents_not_reaching(helsinki):
    # Nobody moves in or out in a street closure, so every change in who reaches is a loss or a gain.
    run = run_scenario(load_scenario(SCENARIOS / "event-street-closure.yaml"), twin=helsinki)
    for key in run.results.children:
        node = run.results[key].to_dataset()
        net = node["residents_losing_reach"] - node["residents_gaining_reach"]
        moved = node["residents_not_reaching"].sel(side="change")
        both = np.isfinite(net) & np.isfinite(moved)
        assert both.any()
        assert np.allclose(net.where(both), moved.where(both), equal_nan=True)


def test_the_flood_example_headlines_stranded_people_then_access_at_its_thresholds():
    run = run_scenario(load_scenario(SCENARIOS / "flood-riverside.yaml"))
    headlines = run.summary()["headlines"]
    assert 1 < len(headlines) <= 5
    assert headlines[0].startswith("The water reaches the homes of") and "stranded" in headlines[0]
    assert any("no longer reach a health service" in line and "aged 65 or over" in line for line in headlines[1:])


def test_the_supply_example_headlines_area_per_resident(helsinki):
    summary = run_scenario(load_scenario(SCENARIOS / "senior-housing-kamppi.yaml"), twin=helsinki).summary()
    supply = [line for line in summary["headlines"] if "per person" in line]
    assert supply and "m2" in supply[0] and "median" in supply[0] and "worst-served tenth" in supply[0]
    row = summary["indicators"]["supply-parks-area_m2-walk"]["groups"]["elderly"]
    assert row["median_per_resident"]["scenario"] < row["median_per_resident"]["baseline"]
    assert row["p10_per_resident"]["baseline"] <= row["median_per_resident"]["baseline"]


def test_the_cli_prints_the_headlines_and_every_threshold(helsinki, tmp_path):
    result = CliRunner().invoke(app, ["run", str(SCENARIOS / "senior-housing-kamppi.yaml"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "senior-housing-kamppi" / "summary.json").read_text())
    lines = result.stdout.splitlines()
    assert lines[1].strip() == summary["headlines"][0]  # the first headline, as summary.json has it
    care = next(line for line in lines if line.strip().startswith("elderly residents (65+): median"))
    assert "within 5 min" in care and "within 10 min" in care
    report = (tmp_path / "senior-housing-kamppi" / "report.html").read_text()
    assert 'id="headlines"' in report and '<option value="5">5 min</option>' not in report  # set by the script
    assert '"5", "5 min"' in report or '["5", "5 min"]' in report  # every threshold is in the map menu's data
