"""User-facing error types: one line each, naming where, what is wrong and what is expected."""


class SandboxError(Exception):
    """Root of every error a user can cause; the CLI prints it in one line and exits 2."""


class ScenarioError(SandboxError, ValueError):
    """A scenario file breaks the schema or does not fit the twin (path, line, field); one line per problem."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))

    def __reduce__(self):  # keep the list when pickled (e.g. sent back from a dask worker)
        return type(self), (self.problems,)


class TwinError(SandboxError, ValueError):
    """A layer or graph breaks a convention of the twin (CRS, empty layer, missing column)."""


class DataError(SandboxError, OSError):
    """An input file is missing, unreadable or invalid."""
