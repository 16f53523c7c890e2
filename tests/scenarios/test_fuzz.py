"""Property-based fuzzing of the scenario loader: whatever the text, parse_scenario gives a valid Scenario or a
ScenarioError whose problems are one line each, within a time deadline and without memory running away.

Four kinds of input: arbitrary Unicode text; text made of YAML's own tokens (indentation, flow brackets, anchors,
aliases, merge keys, tags, quotes, the schema's keys); arbitrary nested structures dumped to YAML; and scenarios
close to valid ones with random values in their fields. EXAMPLES says how many of each are tried (1,900, about
15 s in all); tests/test_limits.py adds HAND_WRITTEN hostile cases.
"""

from __future__ import annotations

import resource
import tempfile
from datetime import timedelta
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import ScenarioError
from sandbox.scenarios.interventions import INTERVENTION_TYPES, REGISTRY
from sandbox.scenarios.load import parse_scenario
from sandbox.scenarios.spec import Indicator, Outputs, Scenario

EXAMPLES = {"text": 400, "tokens": 600, "structures": 400, "scenarios": 500}
FOLDER = Path(tempfile.mkdtemp(prefix="sandbox-fuzz-"))  # an empty scenario folder: no file a scenario names exists
FIELDS = sorted({name for unit in REGISTRY.values() for name in unit.model_fields}
                | set(Scenario.model_fields) | set(Indicator.model_fields) | set(Outputs.model_fields))
FUZZ = settings(deadline=timedelta(seconds=3), suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.filter_too_much], database=None)


def fuzz(kind: str) -> settings:
    """The settings of one kind of input: EXAMPLES[kind] examples, 3 s each at most, nothing kept on disk."""
    return settings(FUZZ, max_examples=EXAMPLES[kind])
MAX_GROWTH_KB = 500_000  # what the whole module may add to the process's peak memory


def assert_scenario_or_problems(text: str) -> None:
    try:
        scenario = parse_scenario(text, source="fuzz.yaml", base_dir=FOLDER)
    except ScenarioError as exc:
        assert exc.problems, "a ScenarioError without problems"
        for problem in exc.problems:
            assert isinstance(problem, str) and problem.startswith("fuzz.yaml"), problem
            assert "\n" not in problem and "\r" not in problem, problem
    else:
        assert isinstance(scenario, Scenario)


def peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


START_KB = peak_kb()


def teardown_module() -> None:
    assert peak_kb() - START_KB < MAX_GROWTH_KB, "the fuzzed inputs took too much memory"


# --- arbitrary text ---------------------------------------------------------------------------------------------


@fuzz("text")
@given(st.text(max_size=400))
def test_any_text(text: str) -> None:
    assert_scenario_or_problems(text)


# --- text made of YAML's tokens and the schema's words ------------------------------------------------------------

TOKENS = [
    "\n", "\n  ", "\n    ", "\n      ", " ", "  ", "\t", ": ", ":", "- ", "-", "[", "]", "{", "}", ", ", ",", "? ",
    "&a ", "&b ", "*a", "*b", "<<: *a", "<<: ", "!!str ", "!!int ", "!!python/object:os.system ", "!custom ", "|",
    ">-", "'", '"', "\"\\e[2J\"", "\"\\u202e\"", "#", "---", "...", "%YAML 1.1", "~", "null", "yes", "no", "on",
    "1", "-1", "0.5", "1e12", ".inf", ".nan", "0x1F", "2024-13-45", "24.94", "60.17", "[24.94, 60.17]",
    "{type: Polygon, coordinates: [[[24.93, 60.16], [24.94, 60.16], [24.94, 60.17], [24.93, 60.16]]]}",
    "../x.geojson", "/etc/passwd", "synthetic:riverside", "helsinki", "x" * 50, "[" * 40, "- " * 20, "]" * 40,
    "&a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n", "&b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n",
    "&c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n", "&d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
    "&e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n", "&f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
    "groups: ", "description: ", "a: ", "b: ", "c: ", "d: ", "e: ", "f: ",
    *FIELDS, *INTERVENTION_TYPES, "schema_version: 1\nname: fuzz\n", "interventions:\n  - type: ",
]


@fuzz("tokens")
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
def test_yaml_tokens(text: str) -> None:
    assert_scenario_or_problems(text)


# --- arbitrary nested structures, dumped to YAML -----------------------------------------------------------------

SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=30) | st.sampled_from([*INTERVENTION_TYPES, *FIELDS, "walk", "care", "parks", 1, 0]))
KEYS = st.sampled_from(FIELDS) | st.text(max_size=12)


def nested(scalars: st.SearchStrategy = SCALARS) -> st.SearchStrategy:
    return st.recursive(scalars, lambda children: st.lists(children, max_size=6)
                        | st.dictionaries(KEYS, children, max_size=6), max_leaves=40)


def dumped(data: object) -> str:
    return yaml.safe_dump(data, allow_unicode=True, default_flow_style=None, sort_keys=False)


@fuzz("structures")
@given(nested())
def test_nested_structures(data: object) -> None:
    assert_scenario_or_problems(dumped(data))


# --- scenarios close to valid ones --------------------------------------------------------------------------------

POINT = st.lists(st.floats(-200, 200) | st.integers(-200, 200), min_size=0, max_size=3)
SQUARE = {"type": "Polygon", "coordinates": [[[24.93, 60.16], [24.94, 60.16], [24.94, 60.17], [24.93, 60.16]]]}
RINGS = st.lists(st.lists(POINT, max_size=6), max_size=3)
GEOJSON = st.recursive(
    st.fixed_dictionaries({"type": st.sampled_from(["Polygon", "MultiPolygon", "LineString", "Point", "Box", 5]),
                           "coordinates": RINGS | st.lists(RINGS, max_size=2) | POINT | SCALARS}),
    lambda parts: st.fixed_dictionaries({"type": st.just("Feature"), "geometry": parts | SCALARS})
    | st.fixed_dictionaries({"type": st.just("FeatureCollection"),
                             "features": st.lists(parts, max_size=3) | SCALARS | parts}), max_leaves=4)
VALUES = SCALARS | POINT | st.just(SQUARE) | GEOJSON | nested()


@st.composite
def intervention(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(INTERVENTION_TYPES))
    names = sorted(set(REGISTRY[kind].model_fields) - {"type"})
    fields = draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=5))
    return {"type": kind, **fields}


@st.composite
def scenario(draw: st.DrawFn) -> dict:
    data: dict = {"schema_version": draw(st.sampled_from([1] * 8 + [2, "1"])),
                  "name": draw(st.sampled_from(["fuzz"] * 8 + ["Fuzz!", "", "a" * 70]) | st.text(max_size=10))}
    data["interventions"] = draw(st.lists(intervention(), max_size=4))
    if draw(st.booleans()):
        data["indicators"] = draw(st.lists(st.dictionaries(st.sampled_from(list(Indicator.model_fields)), VALUES,
                                                           max_size=4), max_size=3))
    for key in ("description", "twin", "seed", "groups", "outputs"):
        if draw(st.booleans()):
            data[key] = draw(VALUES)
    return data


@fuzz("scenarios")
@given(scenario())
def test_near_valid_scenarios(data: dict) -> None:
    assert_scenario_or_problems(dumped(data))
