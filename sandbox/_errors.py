"""User-facing error types: one line each, naming where, what is wrong and what is expected."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator


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


class OutputError(SandboxError, OSError):
    """A folder cannot be written: read-only, not a folder, no permission, disk full, or another process is
    writing it."""


_NOT_WRITABLE = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
                 errno.EPERM: "permission denied", errno.ENAMETOOLONG: "file name too long"}
_FULL = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}


def output_error(where: str | os.PathLike, error: BaseException) -> OutputError | None:
    """The one-line error for ``error``, met while writing ``where`` ("--out runs/x" or a path), when the cause
    is the place written to; None when it is something else (a bug, a bad input)."""
    code = getattr(error, "errno", None)
    if code is None:  # GDAL and HDF5 report the system's error in their message only
        text = str(error)
        code = next((number for number in (*_FULL, *_NOT_WRITABLE) if os.strerror(number) in text), None)
    if code == errno.ENOTDIR:
        filename = getattr(error, "filename", None)
        what = "it is a file" if filename in (None, str(where).removeprefix("--out ")) else f"{filename} is a file"
        return OutputError(f"{where}: not a folder ({what}); expected a folder you can write to")
    if code in _NOT_WRITABLE:
        return OutputError(f"{where}: not writable ({_NOT_WRITABLE[code]}); expected a folder you can write to")
    if code in _FULL:
        return OutputError(f"{where}: cannot be written ({_FULL[code]}); free some space and try again "
                           "(nothing was written)")
    if code == errno.EBUSY:
        return OutputError(f"{where}: another sandbox process is writing it; try again when it has finished")
    return None


@contextlib.contextmanager
def writing(where: str | os.PathLike) -> Iterator[None]:
    """Turn an error of the place being written (see :func:`output_error`) into a one-line OutputError."""
    try:
        yield
    except SandboxError:
        raise
    except Exception as exc:
        error = output_error(where, exc)
        if error is None:
            raise
        raise error from exc
