"""Folders that appear whole or not at all, content hashes and where the cache lives: the leaf every writer builds
on (imports nothing of ours).

A folder is written into a hidden sibling ``.<name>.new-<pid>-<random>`` and swapped in under a file lock (kept in
the cache folder's locks/, not beside the folder): an existing folder is first renamed aside to
``.<name>.old-<pid>-<random>``, the new one renamed in, then the old one deleted. A kill at any point leaves the
complete old folder or the complete new one, except between the two renames, when the old one is still whole but
aside. The next writer cleans what a dead process left (its pid is in the names), and first puts an old folder
moved aside back in place when the new one never arrived (:func:`recover`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Fault injection for tests: SANDBOX_FAULT_AT=<step> SIGKILLs the writing process at that step of staged_folder.
FAULT_ENV = "SANDBOX_FAULT_AT"
FAULT_STEPS = ("staged", "aside", "swapped")
LOCK_TIMEOUT_S = 60.0  # a swap holds the lock for milliseconds; a writer waiting longer gives up with an error


def _fault(step: str) -> None:
    if os.environ.get(FAULT_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def staged_folder(folder: str | Path) -> Iterator[Path]:
    """Write into a hidden sibling folder and move it into place only when the block succeeds, so a failed or
    interrupted write leaves nothing half-written. An existing folder of the same name is replaced (moved aside,
    the new one moved in, the old one deleted); writers of the same folder take turns on a file lock, the last
    to finish wins. Raises OSError (NotADirectoryError when ``folder`` is a file; TimeoutError with errno EBUSY
    when another process holds the lock for over a minute); parent folders it created are removed on failure."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
    created = [parent for parent in (folder.parent, *folder.parent.parents) if not parent.exists()]
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = None
    try:
        if _stale(folder):
            with folder_lock(folder):
                recover(folder)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.new-{os.getpid()}-", dir=folder.parent))
        yield staging
        staging.chmod(0o755)
        _fault("staged")
        aside = None
        with folder_lock(folder):
            recover(folder)
            if folder.exists() or folder.is_symlink():
                aside = folder.parent / f".{folder.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
                folder.rename(aside)
                _fault("aside")
            try:
                staging.rename(folder)
            except BaseException:
                if aside is not None:
                    aside.rename(folder)
                raise
            staging = None
            _fault("swapped")
        if aside is not None:
            _remove(aside)
    except BaseException:
        if staging is not None:
            _remove(staging)
        for parent in created:  # deepest first; stops at the first that is not empty
            try:
                parent.rmdir()
            except OSError:
                break
        raise


@contextlib.contextmanager
def folder_lock(folder: str | Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the lock of ``folder``: a file in the cache folder's locks/ named by a hash of the folder's absolute
    path (so nothing is left beside the folder), released by the system if the process dies. Raises TimeoutError
    (errno EBUSY) after ``timeout`` seconds (default LOCK_TIMEOUT_S); a negative timeout waits for ever."""
    import filelock

    folder = Path(folder)
    lock = filelock.FileLock(_lock_file(folder), timeout=LOCK_TIMEOUT_S if timeout is None else timeout)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise TimeoutError(errno.EBUSY, "another process is writing it", str(folder)) from None
    try:
        yield
    finally:
        lock.release()


def _lock_file(folder: Path) -> Path:
    """<cache>/locks/<hash of the folder's absolute path>.lock, or the same in the temporary folder when the cache
    cannot be written."""
    where = os.path.join(os.path.realpath(folder.parent), folder.name)
    name = hashlib.sha256(os.fsencode(where)).hexdigest()[:24] + ".lock"
    user = getattr(os, "getuid", int)()
    for locks in (cache_dir() / "locks", Path(tempfile.gettempdir()) / f"sandbox-locks-{user}"):
        try:
            locks.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(locks, os.W_OK):
            return locks / name
    raise PermissionError(errno.EACCES, "no folder for lock files (the cache and the temporary folder are not "
                                        "writable)", str(cache_dir() / "locks"))


def remove_idle_locks() -> int:
    """Delete the lock files in the cache that no process holds (each is deleted while held, so a process that
    opened it meanwhile notices and takes a new one); returns how many were deleted."""
    import filelock

    removed = 0
    for path in sorted((cache_dir() / "locks").glob("*.lock")):
        lock = filelock.FileLock(path, timeout=0)
        try:
            lock.acquire()
        except (filelock.Timeout, OSError):
            continue
        try:
            path.unlink(missing_ok=True)
            removed += 1
        finally:
            lock.release()
    return removed


def recover(folder: str | Path) -> None:
    """Clean what dead writers of ``folder`` left beside it: put back an old folder moved aside when the new one
    never arrived (a swap cut short is undone), then delete their staging and aside folders. Folders of live
    processes are left alone. Call it holding :func:`folder_lock`."""
    folder = Path(folder)
    dead_new = [path for path in _leftovers(folder, "new") if not _alive(_owner(path))]
    dead_old = [path for path in _leftovers(folder, "old") if not _alive(_owner(path))]
    if dead_old and not (folder.exists() or folder.is_symlink()):
        newest = max(dead_old, key=lambda path: path.lstat().st_mtime)
        newest.rename(folder)
        dead_old.remove(newest)
    for path in dead_new + dead_old:
        _remove(path)


def _leftovers(folder: Path, kind: str) -> list[Path]:
    prefix = f".{folder.name}.{kind}-"
    try:
        return [path for path in folder.parent.iterdir() if path.name.startswith(prefix)]
    except FileNotFoundError:
        return []


def _stale(folder: Path) -> bool:
    return any(not _alive(_owner(path)) for kind in ("new", "old") for path in _leftovers(folder, kind))


def _owner(path: Path) -> int | None:
    """The pid in a staging or aside folder's name (``.<name>.new-<pid>-<random>``)."""
    head = path.name.rsplit(".", 1)[-1].split("-")
    return int(head[1]) if len(head) > 2 and head[1].isdigit() else None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True  # not ours to judge: leave it
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: a process of another user has that pid
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        with contextlib.suppress(OSError):
            path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def check_writable(folder: str | Path, *, replace: bool = True) -> None:
    """Raise the OSError that writing would meet, before any work: ``folder`` is to be created or replaced
    (``replace``), or filled with new folders (``replace=False``). It must not be a file, and the nearest existing
    folder on the way must take a small file (read-only file system, permissions, a full disk). Leaves nothing
    behind."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
    place = folder.parent if replace else folder
    while not place.exists() and place != place.parent:
        place = place.parent
    if not place.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(place))
    fd, probe = tempfile.mkstemp(prefix=".sandbox-probe-", dir=place)
    try:
        os.write(fd, b"\0" * (1 << 16))
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(probe)


def cache_dir() -> Path:
    """Where sandbox keeps what it builds once (twins, compiled kernels): $SANDBOX_CACHE, else the user's cache
    folder (platformdirs: $XDG_CACHE_HOME/sandbox or ~/.cache/sandbox on Linux, ~/Library/Caches/sandbox on
    macOS)."""
    configured = os.environ.get("SANDBOX_CACHE")
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("sandbox", appauthor=False))


def sha256_file(path: str | Path) -> str | None:
    """The file's sha256 (hex), or None when it is not a file; read in blocks so large inputs cost no memory."""
    path = Path(path)
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
