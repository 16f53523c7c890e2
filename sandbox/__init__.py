"""sandbox: what-if scenarios on an urban digital twin, with the people in it."""

from importlib import metadata

from ._errors import DataError, SandboxError, ScenarioError, TwinError
from .build import PopulationGrid, build_twin
from .catalog import load_twin
from .scenarios.load import load_scenario
from .twin import Twin, read_twin, save_twin


__all__ = [
    "DataError", "PopulationGrid", "Run", "SandboxError", "ScenarioError", "Twin", "TwinError", "__version__",
    "build_twin", "compare_runs", "load_scenario", "load_twin", "open_run", "read_twin", "run_scenario",
    "save_twin",
]
__version__ = metadata.version("sandbox")


def __getattr__(name: str):
    """Scenario runs pull in the compiled routing engine (numba): load them on first use, keeping
    ``import sandbox`` quick for loading and looking at twins."""
    if name in ("Run", "run_scenario", "compare_runs", "open_run"):
        from . import run

        return getattr(run, name)
    raise AttributeError(f"module 'sandbox' has no attribute '{name}'")
