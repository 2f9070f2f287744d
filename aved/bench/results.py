"""Result lines of a benchmark folder: one JSON line per clip attempt, per process; merged with the latest winning."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from aved.bench.manifest import read_manifest
from aved.config import read_json_object
from aved.errors import AvedError
from aved.folders import atomic_write, create_once

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


def config_hash(identity: dict[str, Any]) -> str:
    """A short hash of what decides a run's numbers (its config minus per-row and per-process fields)."""
    blob = json.dumps(identity, sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mapping → {'a.b': value}."""
    if not isinstance(data, dict):
        return {prefix: data}
    out = {}
    for key, value in data.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else key))
    return out


def config_difference(saved: dict[str, Any], current: dict[str, Any], limit: int = 4) -> str:
    """'steps: 2 → 3, …' for the first differing fields of two run documents."""
    skip = ("versions", "run.config_hash", "run.manifest", "run.videos", "prompts", "model.device")

    def fields(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in _flatten(doc).items() if not any(k == s or k.startswith(s + ".") for s in skip)}

    # JSON turns tuples into lists; compare both sides as they read back from disk.
    old, new = fields(saved), fields(json.loads(json.dumps(current)))
    changed = [f"{k}: {old.get(k)} → {new.get(k)}" for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]
    more = f", and {len(changed) - limit} more" if len(changed) > limit else ""
    return ", ".join(changed[:limit]) + more if changed else "same fields, different aved version"


def claim_folder(out_dir: Path, document: dict[str, Any]) -> None:
    """Create `out_dir` with the run's `config.json`, or check that the run already there has the same
    `run.config_hash` (both benches: AvED-Bench's clips and ToyWorld's tasks)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    old = [p.name for p in (out_dir / "bench.json", *out_dir.glob("results.*of*.jsonl")) if p.exists()]
    path = out_dir / CONFIG_NAME
    if old and not path.exists():
        raise AvedError(f"{out_dir}: a bench folder of an older aved ({old[0]}), not resumable; pass a fresh --out")
    # Of processes claiming a fresh folder at once, one creates config.json and every other compares with it.
    if create_once(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n"):
        return
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise AvedError(f"{path}: not a readable JSON file ({err}); pass a fresh --out folder") from None
    if not isinstance(saved, dict) or saved.get("run", {}).get("config_hash") != document["run"]["config_hash"]:
        difference = config_difference(saved if isinstance(saved, dict) else {}, document)
        raise AvedError(f"{out_dir}: holds a run with another config ({difference}); pass a fresh --out folder")
