"""Outputs that appear whole or not at all: atomic files, folders staged beside their target and committed in one
rename with a completion marker, stale stages cleared, and locks that keep two runs out of one folder."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from aved.errors import AvedError

# Written last into a staged folder, just before the rename that publishes it: a folder without it is not an output.
COMPLETE = "complete.json"
_STAGE, _REPLACED = "partial", "replaced"


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write `path` through a temporary sibling renamed onto it, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode() if isinstance(data, str) else data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def check_output_file(path: str | Path, suffix: str) -> Path:
    """A file name `--json`/`--output` can take: the right suffix, not a folder, no file in the way of its folder."""
    path = Path(path)
    if path.is_dir():
        raise AvedError(f"{path}: is a folder, expected a {suffix} file name")
    if path.suffix.lower() != suffix:
        raise AvedError(f"{path}: the output must be a {suffix} file")
    _check_parents(path)
    return path


def check_folder_path(path: str | Path) -> Path:
    """A folder a run can create or write in: not a file, no file in the way above it, writable."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise AvedError(f"{path}: is a file, expected a folder")
    _check_parents(path)
    return path


def check_output_folder(path: str | Path, replace: bool = False) -> Path:
    """Refuse, before any work, an output folder that cannot be written whole: a file there or above it, or a
    folder that holds anything but a finished output (which `replace` allows to be replaced whole)."""
    path = check_folder_path(path)
    if path.is_dir() and any(path.iterdir()):
        if not is_complete(path):
            raise AvedError(f"{path}: holds other files; pass a new or empty output folder")
        if not replace:
            raise AvedError(f"{path}: holds a finished output; pass another folder, or --overwrite to replace it")
    return path


def _check_parents(path: Path) -> None:
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise AvedError(f"{path}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise AvedError(f"{path}: cannot write in {parent} (permission denied)")
            return


def is_complete(folder: str | Path) -> bool:
    """True when `folder` was published by `staged_folder` (its completion marker is there)."""
    return (Path(folder) / COMPLETE).is_file()


def _sibling(path: Path, kind: str) -> Path:
    return path.with_name(f".{path.name}.{kind}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_stages(path: str | Path) -> list[Path]:
    """Remove the staging folders a killed run left beside `path` (those of dead processes on this host)."""
    path, removed = Path(path), []
    if not path.parent.is_dir():
        return removed
    host = socket.gethostname()
    for kind in (_STAGE, _REPLACED):
        for stage in path.parent.glob(f".{path.name}.{kind}-*"):
            owner, _, rest = stage.name[len(f".{path.name}.{kind}-") :].rpartition("-")
            owner_host, _, pid = owner.rpartition("-")
            if owner_host == host and pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(stage, ignore_errors=True)
                removed.append(stage)
    return removed


@contextlib.contextmanager
def staged_folder(out_dir: str | Path, replace: bool = False) -> Iterator[Path]:
    """A hidden sibling of `out_dir` to write into; when the block completes, the completion marker goes in last
    and one rename makes it `out_dir` (a finished `out_dir` is replaced whole only with `replace`)."""
    out_dir = Path(out_dir)
    check_output_folder(out_dir, replace)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_stages(out_dir)
    stage = _sibling(out_dir, _STAGE)
    stage.mkdir()
    try:
        try:
            yield stage
            files = sorted(p.name for p in stage.iterdir())
            marker = {"files": files, "finished_at": time.time()}
            (stage / COMPLETE).write_text(json.dumps(marker, indent=2) + "\n")
        except OSError as err:
            raise AvedError(f"{out_dir}: cannot write the outputs ({err.strerror or err}); nothing was kept") from err
        _publish(stage, out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _publish(stage: Path, out_dir: Path) -> None:
    """Rename `stage` onto `out_dir`: atomic onto a missing or empty folder; a finished one is moved aside first."""
    old = None
    if out_dir.is_dir() and any(out_dir.iterdir()):
        old = _sibling(out_dir, _REPLACED)
        os.rename(out_dir, old)
    try:
        os.rename(stage, out_dir)
    except OSError as err:
        if old is not None:
            os.rename(old, out_dir)
        raise AvedError(f"{out_dir}: cannot move the finished outputs into place ({err.strerror})") from err
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def folder_lock(folder: str | Path, name: str = ".lock") -> Iterator[None]:
    """Hold `folder/name` exclusively for the block; a second holder is refused with who holds it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    handle = open(path, "a+")  # noqa: SIM115 - held open for the whole block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise AvedError(f"{folder}: in use by {holder}; wait for it to finish or pass another folder") from None
        handle.seek(0)
        handle.truncate()
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} (since {started})\n")
        handle.flush()
        yield
    finally:
        handle.close()
