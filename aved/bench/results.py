"""Result lines of a benchmark folder: one JSON line per clip attempt, per process; merged with the latest winning."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

from aved.bench.manifest import read_manifest
from aved.config import read_json_object
from aved.errors import AvedError
from aved.folders import atomic_write

MERGED_NAME = "results.jsonl"
MANIFEST_COPY = "manifest.csv"
CONFIG_NAME = "config.json"
_PROCESS_FILE = re.compile(r"^results\.(\d+)\.jsonl$")


def process_results_path(out_dir: str | Path, process_index: int) -> Path:
    """`out_dir/results.<process_index>.jsonl`: each process appends only to its own file, so no locking."""
    return Path(out_dir) / f"results.{process_index}.jsonl"


def process_results_paths(out_dir: str | Path) -> list[Path]:
    """Every per-process results file in `out_dir`, whatever number of processes wrote them."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    return sorted(p for p in out_dir.iterdir() if _PROCESS_FILE.match(p.name))


def clean_number(value: Any) -> float | None:
    """A metric value as JSON can hold it: NaN and ±inf (e.g. no peaks to match) become null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one line and make it durable before the next clip starts."""
    line = json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"
    with open(path, "ab") as handle:
        # A process killed mid-write leaves a line without its newline; start ours on a fresh line.
        if handle.tell() > 0:
            with open(path, "rb") as reader:
                reader.seek(-1, os.SEEK_END)
                if reader.read(1) != b"\n":
                    handle.write(b"\n")
        handle.write(line.encode())
        handle.flush()
        os.fsync(handle.fileno())


def read_records(path: Path) -> list[dict[str, Any]]:
    """The readable lines of a results file; a line cut short by a killed process is ignored (that clip reruns)."""
    records = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return records
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("name"), str):
            records.append(record)
    return records


def latest_records(out_dir: str | Path) -> dict[str, dict[str, Any]]:
    """name → the most recent record of that clip, over the merged file and every process's file."""
    out_dir = Path(out_dir)
    latest: dict[str, dict[str, Any]] = {}
    for path in [out_dir / MERGED_NAME, *process_results_paths(out_dir)]:
        for record in read_records(path):
            previous = latest.get(record["name"])
            if previous is None or record.get("finished_at", 0) >= previous.get("finished_at", 0):
                latest[record["name"]] = record
    return latest


def manifest_names(out_dir: str | Path) -> list[str]:
    """Clip names in manifest order, from the copy of the manifest the run saved in `out_dir`."""
    path = Path(out_dir) / MANIFEST_COPY
    if not path.exists():
        raise AvedError(f"{out_dir}: not a benchmark folder (no {MANIFEST_COPY}; run `aved bench run` into it first)")
    return [row.name for row in read_manifest(path)]


def merge_results(out_dir: str | Path) -> Path:
    """Write `out_dir/results.jsonl`: one line per manifest clip that has a record, latest wins, manifest order."""
    out_dir = Path(out_dir)
    latest = latest_records(out_dir)
    lines = [json.dumps(latest[name], ensure_ascii=False) + "\n" for name in manifest_names(out_dir) if name in latest]
    path = out_dir / MERGED_NAME
    atomic_write(path, "".join(lines))
    return path


def read_run_document(out_dir: str | Path) -> dict[str, Any]:
    """`out_dir/config.json` as written by the run (the resolved EditConfig plus its `run` section)."""
    return read_json_object(Path(out_dir) / CONFIG_NAME, f"{out_dir}: not a benchmark folder (no {CONFIG_NAME})")
