"""Writes that survive a kill, concurrent writers, environment errors in one line, a cache that can be trusted."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sandbox import _io
from sandbox._errors import OutputError, SandboxError, writing
from sandbox._io import FAULT_ENV, FAULT_STEPS, check_writable, folder_lock, recover, staged_folder

REPO = Path(__file__).resolve().parents[1]
FILES = ("a.txt", "b.txt", "sub/c.txt")

# A writer in a separate process: loads _io.py on its own (it is a leaf), writes FILES holding TAG, optionally
# sleeping inside the block or killing itself half-way through it.
WRITER = textwrap.dedent("""
    import importlib.util, os, signal, sys, time
    spec = importlib.util.spec_from_file_location("sandbox_io", {io!r})
    io = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(io)
    folder, tag, pause, die_inside = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4] == "1"
    with io.staged_folder(folder) as staging:
        for i, name in enumerate({files!r}):
            path = staging / name
            path.parent.mkdir(exist_ok=True)
            path.write_text(tag)
            if die_inside and i == 1:
                os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(pause)
    print("done", tag)
""").format(io=str(REPO / "sandbox" / "_io.py"), files=FILES)


def write_in_process(folder: Path, tag: str, *, fault: str | None = None, pause: float = 0.0,
                     die_inside: bool = False) -> subprocess.Popen:
    env = {**os.environ}
    env.pop(FAULT_ENV, None)
    if fault:
        env[FAULT_ENV] = fault
    return subprocess.Popen([sys.executable, "-c", WRITER, str(folder), tag, str(pause), "1" if die_inside else "0"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def content(folder: Path) -> str | None:
    """The tag every file holds when the folder is complete, None when it is absent; fails on a mix or a gap."""
    if not folder.exists():
        return None
    found = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())
    assert found == sorted(FILES), found
    tags = {(folder / name).read_text() for name in FILES}
    assert len(tags) == 1, tags
    return tags.pop()


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.parent.iterdir() if path.name.startswith(f".{folder.name}."))


def write_here(folder: Path, tag: str) -> None:
    with staged_folder(folder) as staging:
        for name in FILES:
            (staging / name).parent.mkdir(exist_ok=True)
            (staging / name).write_text(tag)


# --- kills at every step --------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", FAULT_STEPS)
def test_a_kill_at_any_step_leaves_the_old_or_the_new_folder_and_the_next_write_cleans_up(tmp_path, step):
    folder = tmp_path / "run"
    write_here(folder, "old")
    writer = write_in_process(folder, "new", fault=step)
    writer.communicate(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    assert leftovers(folder), "a killed writer leaves its staging or aside folder"
    if step == "aside":  # the old folder is aside, the new one not yet in: the next writer undoes the swap
        assert not folder.exists()
        recover(folder)
        assert leftovers(folder) == []
    assert content(folder) == ("new" if step == "swapped" else "old")
    write_here(folder, "newer")
    assert content(folder) == "newer"
    assert leftovers(folder) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]


def test_a_kill_while_writing_keeps_the_old_folder_and_the_stale_staging_is_cleaned(tmp_path):
    folder = tmp_path / "run"
    write_here(folder, "old")
    writer = write_in_process(folder, "new", die_inside=True)
    writer.communicate(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    assert content(folder) == "old"
    assert [name.split("-")[0] for name in leftovers(folder)] == [".run.new"]
    write_here(folder, "newer")
    assert content(folder) == "newer" and leftovers(folder) == []


def test_the_next_writer_undoes_an_interrupted_swap_itself(tmp_path):
    folder = tmp_path / "run"
    write_here(folder, "old")
    writer = write_in_process(folder, "new", fault="aside")
    writer.communicate(timeout=60)
    assert not folder.exists()
    write_here(folder, "newer")  # recovers (puts "old" back), then replaces it
    assert content(folder) == "newer" and leftovers(folder) == []


def test_folders_of_a_live_writer_are_left_alone(tmp_path):
    folder = tmp_path / "run"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = tmp_path / f".run.new-{sleeper.pid}-abcd1234"
        live.mkdir()
        dead = tmp_path / ".run.new-999999999-abcd1234"  # above any pid_max: no such process
        dead.mkdir()
        write_here(folder, "one")
        assert live.is_dir() and not dead.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    write_here(folder, "two")
    assert not live.exists() and leftovers(folder) == []


# --- concurrent writers ---------------------------------------------------------------------------------------


def test_two_writers_to_one_folder_both_finish_and_the_folder_is_whole(tmp_path):
    folder = tmp_path / "run"
    write_here(folder, "old")
    writers = [write_in_process(folder, tag, pause=1.0) for tag in ("first", "second")]
    outputs = [writer.communicate(timeout=120) for writer in writers]
    for writer, (stdout, stderr) in zip(writers, outputs):
        assert writer.returncode == 0, stderr
        assert "Traceback" not in stderr
    assert content(folder) in ("first", "second")
    assert leftovers(folder) == []


def test_a_writer_that_cannot_get_the_lock_gets_one_line(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    monkeypatch.setattr(_io, "LOCK_TIMEOUT_S", 0.2)
    with folder_lock(folder):  # held by another file descriptor: as if by another process
        with pytest.raises(OutputError) as caught, writing(folder):
            write_here(folder, "blocked")
    assert str(caught.value) == f"{folder}: another sandbox process is writing it; try again when it has finished"
    assert sorted(path.name for path in tmp_path.iterdir()) == []


# --- environment errors ---------------------------------------------------------------------------------------


def test_check_writable_refuses_a_file_and_a_path_through_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    for target, replace in ((tmp_path / "file", True), (tmp_path / "file", False), (tmp_path / "file" / "x", True)):
        with pytest.raises(OutputError, match="not a folder .* is a file|not a folder \\(it is a file\\)"), \
                writing(target):
            check_writable(target, replace=replace)
    check_writable(tmp_path / "new" / "deeper", replace=False)  # can be created
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file"]


@pytest.mark.parametrize(("code", "message"), [
    (errno.EROFS, "not writable (read-only file system); expected a folder you can write to"),
    (errno.EACCES, "not writable (permission denied); expected a folder you can write to"),
    (errno.ENOSPC, "cannot be written (no space left on device); free some space and try again"),
])
def test_environment_errors_are_one_line(tmp_path, monkeypatch, code, message):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(_io.tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError) as caught, writing("--out runs/x"):
        check_writable(tmp_path / "x")
    assert str(caught.value).startswith(f"--out runs/x: {message}")
    assert "\n" not in str(caught.value)


def test_a_full_disk_half_way_leaves_nothing_behind(tmp_path):
    folder = tmp_path / "new" / "deeper" / "run"
    with pytest.raises(OutputError, match="no space left on device"), writing(folder):
        with staged_folder(folder) as staging:
            (staging / "a.txt").write_text("x")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(staging / "b.txt"))
    assert list(tmp_path.iterdir()) == [], "the staging folder and the parents it created are gone"


def test_a_message_from_gdal_or_hdf5_is_recognised_and_other_errors_pass():
    full = output_error_of(RuntimeError("sqlite3_exec(...) failed: No space left on device"))
    assert full is not None and "no space left on device" in str(full)
    assert output_error_of(ValueError("bad value")) is None
    assert output_error_of(FileNotFoundError(errno.ENOENT, "nope")) is None


def output_error_of(error: BaseException) -> SandboxError | None:
    from sandbox._errors import output_error

    return output_error("runs/x", error)


def test_writing_onto_a_file_is_refused_before_the_block_runs(tmp_path):
    (tmp_path / "run").write_text("a file")
    ran = []
    with pytest.raises(OutputError, match="not a folder"), writing(tmp_path / "run"):
        with staged_folder(tmp_path / "run"):
            ran.append(True)
    assert not ran and (tmp_path / "run").read_text() == "a file"


# --- the twin cache -------------------------------------------------------------------------------------------


def test_three_processes_on_an_empty_cache_build_once_and_agree(tmp_path):
    env = {**os.environ, "SANDBOX_CACHE": str(tmp_path / "cache")}
    env.pop(FAULT_ENV, None)
    code = "import sandbox; print(sandbox.load_twin('helsinki').fingerprint())"
    started = time.perf_counter()
    loaders = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [loader.communicate(timeout=600) for loader in loaders]
    for loader, (stdout, stderr) in zip(loaders, outputs):
        assert loader.returncode == 0, stderr
        assert "Traceback" not in stderr
    fingerprints = {stdout.strip() for stdout, _ in outputs}
    assert len(fingerprints) == 1 and len(fingerprints.pop()) == 16
    twins = [path.name for path in (tmp_path / "cache").iterdir() if path.name.startswith("helsinki")]
    assert len(twins) == 1, twins
    assert time.perf_counter() - started < 600


def test_cache_follows_sandbox_cache_then_xdg_cache_home(tmp_path):
    def where(**extra: str) -> list[str]:
        env = {key: value for key, value in os.environ.items()
               if key not in ("SANDBOX_CACHE", "NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
        code = ("import os, sandbox.routing; from sandbox.catalog import cache_dir; print(cache_dir()); "
                "print(os.environ['NUMBA_CACHE_DIR'])")
        done = subprocess.run([sys.executable, "-c", code], env={**env, **extra}, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    xdg, mine = str(tmp_path / "xdg"), str(tmp_path / "mine")
    assert where(XDG_CACHE_HOME=xdg) == [f"{xdg}/sandbox", f"{xdg}/sandbox/numba"], "numba's kernels in it too"
    assert where(XDG_CACHE_HOME=xdg, SANDBOX_CACHE=mine) == [mine, f"{mine}/numba"]
    assert where(NUMBA_CACHE_DIR=str(tmp_path / "numba"))[1] == str(tmp_path / "numba"), "the user's setting wins"


def test_the_cache_lock_files_stay_out_of_the_written_folders(tmp_path):
    write_here(tmp_path / "run", "one")
    write_here(tmp_path / "run", "two")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]
    assert any((_io.cache_dir() / "locks").glob("*.lock")), "they are kept in the cache"
