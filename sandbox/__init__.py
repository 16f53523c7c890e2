"""sandbox: what-if scenarios on an urban digital twin, with the people in it."""

from ._errors import DataError, SandboxError, ScenarioError, TwinError
from .build import PopulationGrid, build_twin
from .catalog import load_twin
from .twin import Twin, read_twin, save_twin

__version__ = "0.1.0"

__all__ = [
    "DataError", "PopulationGrid", "SandboxError", "ScenarioError", "Twin", "TwinError", "__version__",
    "build_twin", "load_twin", "read_twin", "save_twin",
]
