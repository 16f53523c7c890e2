"""Shared fixtures: the embedded Helsinki twin, a tiny twin built in code, and ../shared/data when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SANDBOX_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session", autouse=True)
def _test_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the tests' twin cache apart from the user's, and build the default only once per session."""
    os.environ.setdefault("SANDBOX_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def helsinki():
    """The embedded default twin (built once per test session, then read from the cache)."""
    from sandbox import load_twin

    return load_twin("helsinki")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: that folder exists for developers and CI, not on users' machines."""
    if not (SHARED_DATA / "helsinki").is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    return SHARED_DATA / "helsinki"
