"""The layering of ARCHITECTURE.md holds: import-linter's contracts (pyproject.toml) are kept, with no cycles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(linter), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_every_module_of_the_package_is_in_the_architecture():
    text = (REPO / "ARCHITECTURE.md").read_text()
    modules = [p.relative_to(REPO / "sandbox") for p in (REPO / "sandbox").rglob("*.py")]
    missing = [str(m) for m in modules if m.name != "__init__.py" and m.parent.name != "interventions"
               and f"`{m.as_posix()}`" not in text and f"`{m.name}`" not in text]
    assert not missing, f"modules not described in ARCHITECTURE.md: {missing}"
