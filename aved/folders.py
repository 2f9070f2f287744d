"""Outputs that appear whole or not at all: atomic files, folders staged beside their target and committed in one
rename with a completion marker, stale stages cleared, and locks that keep two runs out of one folder."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
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
_STAGE, _REPLACED, _LOCK = "partial", "replaced", "lock"
_LAYOUT, _LAYOUT_GUARD = ".lock.layout", ".lock.guard"


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write `path` through a temporary sibling renamed onto it, so readers never see half a file."""
    with atomic_file(path) as temp:
        temp.write_bytes(data.encode() if isinstance(data, str) else data)


def create_once(path: str | Path, data: str | bytes) -> bool:
    """Write `path` whole unless it exists (True: this call created it). Of two processes racing to create it one
    wins and the other gets False and reads the winner's, never a mix: the temp file is linked in, not renamed over."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _reserve(path)
    try:
        temp.write_bytes(data.encode() if isinstance(data, str) else data)
        os.link(temp, path)
        return True
    except FileExistsError:
        return False
    finally:
        temp.unlink(missing_ok=True)


def save_figure(figure, path: str | Path, **options) -> None:
    """A matplotlib Figure saved atomically as `path` (its format from the suffix, `options` to savefig)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", **options)
    atomic_write(path, buffer.getvalue())


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """An empty hidden sibling of `path` (same suffix, so encoders pick the format) to write; renamed onto `path`
    when the block completes, removed if it fails. Created 0666 less the umask, like any normally created file
    (mkstemp's 0600 would make config.json or results.jsonl unreadable to the group)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _reserve(path)
    try:
        yield temp
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _reserve(path: Path) -> Path:
    """Create an empty `.{name}.part-XXXX{suffix}` beside `path`."""
    for _ in range(100):
        temp = path.with_name(f".{path.name}.part-{secrets.token_hex(4)}{path.suffix}")
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        except OSError as err:
            raise AvedError(f"{path}: cannot write in {path.parent} ({err.strerror or err})") from err
        return temp
    raise AvedError(f"{path}: cannot find a free temporary name in {path.parent}")


@contextlib.contextmanager
def replaced_folder(target: str | Path) -> Iterator[Path]:
    """A hidden sibling folder to fill; when the block completes it replaces `target` whole (the old one moved
    aside, then deleted), removed if it fails. For folders regenerated whole, such as model folders; an edit's
    outputs go through `staged_folder`, which never replaces a finished output unasked."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        stage.chmod(0o777 & ~_umask())  # mkdtemp's 0700 otherwise
        yield stage
        if not target.exists():
            os.replace(stage, target)
            return
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, retired / target.name)
        try:
            os.replace(stage, target)
        except BaseException:
            os.replace(retired / target.name, target)  # the old folder back where it was
            raise
        finally:
            shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_file(path: str | Path, suffix: str) -> Path:
    """A file name `--out`/`--output` can take: the right suffix, not a folder, no file in the way of its folder."""
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
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise AvedError(f"{path}: cannot write in it (permission denied)")
    if path.is_dir() and _entries(path):
        if not is_complete(path):
            raise AvedError(f"{path}: holds other files; pass a new or empty output folder")
        if not replace:
            raise AvedError(f"{path}: holds a finished output; pass another folder, or --overwrite to replace it")
    return path


def _entries(folder: Path) -> list[Path]:
    """What `folder` holds besides the hidden stages and locks of runs publishing into it."""
    return [p for p in folder.iterdir() if not p.name.startswith(f".{folder.name}.")]


def _check_parents(path: Path) -> None:
    if path.is_dir():
        return  # an existing folder is written in, whatever its parent allows (a mount point, a shared volume)
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


def _names(out_dir: Path, token: str, home: Path) -> tuple[Path, Path, Path]:
    """(stage, replaced, lock) of one publishing run, in `home` (beside `out_dir` or in it), sharing its token."""
    return tuple(home / f".{out_dir.name}.{kind}-{token}" for kind in (_STAGE, _REPLACED, _LOCK))


def _stages_inside(out_dir: Path) -> bool:
    """Stage inside `out_dir` when it cannot be renamed onto: a mount point, a folder in a parent we cannot write,
    the working folder; the completion marker then goes in last, after the files are moved in."""
    if not out_dir.is_dir():
        return False
    cwd = Path.cwd().resolve()
    in_use = out_dir == cwd or out_dir in cwd.parents  # renaming onto it would leave a shell in a deleted folder
    return in_use or os.path.ismount(out_dir) or not os.access(out_dir.parent, os.W_OK | os.X_OK)


def _try_lock(path: Path):
    """An open handle holding `path` exclusively, or None when another process holds it."""
    handle = open(path, "a+")  # noqa: SIM115 - returned to the caller, who keeps it open
    try:
        held = _flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB, path.parent)
    except BaseException:
        handle.close()
        raise
    if not held:
        handle.close()
        return None
    return handle


def remove_stale_stages(out_dir: str | Path) -> list[Path]:
    """Clear what killed runs left beside `out_dir`: their stages go; a finished output one of them had moved
    aside to replace comes back when nothing took its place. A run is dead when nobody holds its lock file."""
    out_dir, cleared = Path(out_dir), []
    homes = [h for h in (out_dir.parent, out_dir) if h.is_dir() and os.access(h, os.W_OK | os.X_OK)]
    for lock in [lock for home in homes for lock in home.glob(f".{out_dir.name}.{_LOCK}-*")]:
        token = lock.name.rsplit(f".{_LOCK}-", 1)[1]
        handle = _try_lock(lock)
        if handle is None:
            continue  # its run is alive
        try:
            stage, replaced, _ = _names(out_dir, token, lock.parent)
            if replaced.exists() and not out_dir.exists():
                os.rename(replaced, out_dir)
            for leftover in (stage, replaced):
                if leftover.exists():
                    shutil.rmtree(leftover, ignore_errors=True)
                    cleared.append(leftover)
            lock.unlink(missing_ok=True)
        finally:
            handle.close()
    return cleared


@contextlib.contextmanager
def staged_folder(out_dir: str | Path, replace: bool = False) -> Iterator[Path]:
    """A hidden sibling of `out_dir` to write into; when the block completes, the completion marker goes in last
    and one rename makes it `out_dir` (a finished `out_dir` is replaced whole only with `replace`). A run holds a
    lock file beside its stage for its whole life, so a later run tells a killed run's leftovers from a live one's."""
    out_dir = check_output_folder(out_dir, replace).resolve()  # a symlinked --out: stage beside its target
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_stages(out_dir)
    inside = _stages_inside(out_dir)
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    stage, replaced, lock = _names(out_dir, token, out_dir if inside else out_dir.parent)
    handle = None
    try:
        handle = _try_lock(lock)
        stage.mkdir()
        try:
            yield stage
            marker = {"files": sorted(p.name for p in stage.iterdir()), "finished_at": time.time()}
            (stage / COMPLETE).write_text(json.dumps(marker, indent=2) + "\n")
        except OSError as err:
            raise AvedError(f"{out_dir}: cannot write the outputs ({err.strerror or err}); nothing was kept") from err
        if inside:
            _publish_inside(stage, out_dir, replace)
        else:
            _publish(stage, replaced, out_dir, replace)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        lock.unlink(missing_ok=True)
        if handle is not None:
            handle.close()


def _publish(stage: Path, replaced: Path, out_dir: Path, replace: bool) -> None:
    """Rename `stage` onto `out_dir`: the kernel refuses a non-empty `out_dir`, so nothing is ever overwritten but
    a finished output with `replace` (checked again now: it may have changed during the run)."""
    moved_aside = False
    if replace and out_dir.is_dir() and any(out_dir.iterdir()):
        if not is_complete(out_dir):
            raise AvedError(f"{out_dir}: no longer holds a finished output; not replacing it (nothing was kept)")
        os.rename(out_dir, replaced)
        moved_aside = True
    try:
        os.rename(stage, out_dir)
    except OSError as err:
        if moved_aside:
            os.rename(replaced, out_dir)
        if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise AvedError(f"{out_dir}: was filled by someone else during the run; nothing was kept") from None
        raise AvedError(f"{out_dir}: cannot move the finished outputs into place ({err.strerror})") from err
    if moved_aside:
        shutil.rmtree(replaced, ignore_errors=True)


def _publish_inside(stage: Path, out_dir: Path, replace: bool) -> None:
    """Move the stage's files into `out_dir` itself, the completion marker last (a finished output there, with
    `replace`, loses its marker first, so no reader takes the mix for an output)."""
    if _entries(out_dir):  # checked again now: the folder may have changed during the run
        if not (replace and is_complete(out_dir)):
            raise AvedError(f"{out_dir}: was filled by someone else during the run; nothing was kept")
        (out_dir / COMPLETE).unlink(missing_ok=True)
        for old in _entries(out_dir):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    for item in sorted(stage.iterdir(), key=lambda p: p.name == COMPLETE):
        os.replace(item, out_dir / item.name)


@contextlib.contextmanager
def shard_lock(folder: str | Path, index: int, count: int) -> Iterator[None]:
    """Hold shard `index` of `count` in `folder` for the block: a second holder of the same shard, or a run that
    splits the folder into another number of shards, is refused with who holds it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        # One process at a time takes its layout's shared lock and probes the others, so two shards of one layout
        # starting together never see each other's probe.
        with open(folder / _LAYOUT_GUARD, "a+") as guard:
            _flock(guard, fcntl.LOCK_EX, folder)
            mine = folder / f"{_LAYOUT}{count}"
            _flock(stack.enter_context(open(mine, "a+")), fcntl.LOCK_SH, folder)
            for other in folder.glob(f"{_LAYOUT}*"):
                if other.name == mine.name:
                    continue
                with open(other, "a+") as probe:
                    if not _flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB, folder):
                        shards = other.name.removeprefix(_LAYOUT)
                        raise AvedError(f"{folder}: in use by a run split into {shards} shards, not {count}")
        stack.enter_context(folder_lock(folder, f".lock.{index}of{count}"))
        yield


def _flock(handle, operation: int, folder: Path) -> bool:
    """flock, False when another process holds the lock; a filesystem without locks is a one-line error."""
    try:
        fcntl.flock(handle, operation)
    except OSError as err:
        if err.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise AvedError(f"{folder}: cannot lock files here ({err.strerror}); use a local folder") from None
    return True


@contextlib.contextmanager
def folder_lock(folder: str | Path, name: str = ".lock") -> Iterator[None]:
    """Hold `folder/name` exclusively for the block; a second holder is refused with who holds it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    handle = _try_lock(path)
    if handle is None:
        holder = path.read_text().strip() or "another process"
        raise AvedError(f"{folder}: in use by {holder}; wait for it to finish or pass another folder")
    try:
        handle.seek(0)
        handle.truncate()
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} (since {started})\n")
        handle.flush()
        yield
    finally:
        handle.close()
