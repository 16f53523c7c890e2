"""What the package says of itself is true: its dependencies are its imports (deptry), every one has a lower
bound (checked by .ci/lowest), the licence, the version; and a build assumes no population it was not given."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sandbox
from sandbox import TwinError, build_twin
from sandbox.catalog import helsinki_pbf
from sandbox.cli import app
from sandbox.population import AGE_BANDS, HELSINKI_CENTRE

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
runner = CliRunner()


def test_declared_dependencies_are_the_imports():
    """deptry: nothing imported but undeclared, nothing declared but unused (exceptions in [tool.deptry])."""
    result = subprocess.run([sys.executable, "-m", "deptry", "."], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower()


def test_every_dependency_has_a_lower_bound_and_a_pin():
    requirements = [*PROJECT["project"]["dependencies"], *PROJECT["project"]["optional-dependencies"]["dev"]]
    assert all(">=" in requirement for requirement in requirements), requirements
    lines = (REPO / "constraints.txt").read_text().split()
    pins = {line.split("==")[0].lower().replace("_", "-") for line in lines}
    assert all("==" in line for line in lines)
    assert {_name(requirement).replace("_", "-") for requirement in requirements} <= pins


def test_licence_classifiers_and_build_backend():
    project = PROJECT["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    licence = (REPO / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "Copyright (c) 2026 the sandbox authors" in licence
    assert not any(c.startswith("License ::") for c in project["classifiers"])  # the SPDX expression says it
    assert "Programming Language :: Python :: 3.11" in project["classifiers"]
    assert PROJECT["build-system"]["requires"] == ["setuptools>=77"]  # the first to read license = "MIT" (PEP 639)


def test_version_option():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"sandbox {sandbox.__version__}\n"
    assert sandbox.__version__ == PROJECT["project"]["version"]


# --- a build's population is always chosen, and provenance says which ----------------------------------------


@pytest.mark.parametrize("args, expected", [
    ([], "error: no population chosen; pass --population-grid FILE, --calibration helsinki-centre"),
    (["--residents", "500"], "error: --residents 500 needs age shares; add --age-shares"),
    (["--age-shares", "0-9=1"], "error: --age-shares needs --residents N"),
    (["--residents", "5", "--age-shares", "0-9=1"], "error: --age-shares: keys differ from AGE_BANDS"),
    (["--calibration", "atlantis"], "error: --calibration: unknown 'atlantis'; expected one of helsinki-centre"),
    (["--population-grid", "grid.shp", "--calibration", "helsinki-centre"],
     "error: --population-grid brings its own residents and ages"),
])
def test_build_without_a_population_choice_is_one_line_and_exit_2(tmp_path, args, expected):
    result = runner.invoke(app, ["build", str(helsinki_pbf()), "--out", str(tmp_path / "twin"), *args])
    assert result.exit_code == 2
    assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_build_twin_needs_an_explicit_population():
    with pytest.raises(TwinError, match="no population chosen; pass grid=PopulationGrid"):
        build_twin(helsinki_pbf(), name="x")
    with pytest.raises(TwinError, match="residents=300 without age shares"):
        build_twin(helsinki_pbf(), name="x", residents=300)
    with pytest.raises(TwinError, match="calibration: unknown 'helsinki'"):
        build_twin(helsinki_pbf(), name="x", calibration="helsinki")


def test_provenance_says_which_population_was_used(helsinki):
    assert helsinki.provenance["households"]["source"] == (
        f"calibration helsinki-centre: synthetic population of {HELSINKI_CENTRE.residents} residents, age shares of "
        f"{HELSINKI_CENTRE.source}")
    given = build_twin(helsinki_pbf(), name="x", residents=300, calibration="helsinki-centre")
    assert given.households["size"].sum() == 300
    assert given.provenance["households"]["source"] == (
        f"synthetic population of 300 residents given by the user, age shares of {HELSINKI_CENTRE.source}")
    shares = dict.fromkeys(AGE_BANDS, 1 / len(AGE_BANDS))
    own = build_twin(helsinki_pbf(), name="x", residents=200, age_shares=shares)
    assert own.households["size"].sum() == 200
    assert own.provenance["households"]["source"] == (
        "synthetic population of 200 residents given by the user, age shares given by the user")
    assert sandbox.load_twin("helsinki").summary()["households_source"].startswith("calibration helsinki-centre: ")
