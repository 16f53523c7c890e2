"""Files that appear whole or not at all, and content hashes: the leaf every writer builds on (imports nothing of
ours)."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def staged_folder(folder: str | Path) -> Iterator[Path]:
    """Write into a hidden sibling folder and move it into place only when the block succeeds, so a failed or
    interrupted run leaves nothing half-written (an existing folder of the same name is replaced)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        yield staging
        staging.chmod(0o755)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


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
