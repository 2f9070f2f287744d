"""The runs a study compares: an `aved bench run` folder (one method) or one row of an `aved toyworld bench` folder
(`FOLDER:ROW`), each read into its finished clips keyed so that two runs' edits of one clip meet."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aved.bench.results import CONFIG_NAME, latest_records
from aved.bench.sweep import setting_name
from aved.config import read_json_object
from aved.errors import AvedError
from aved.toyworld.bench import SOURCE_ROW, TRUTH_ROW, clip_path

BENCH, TOYWORLD = "bench", "toyworld"
BENCH_EDITED, BENCH_SOURCE = "edited.mp4", "source.mp4"  # aved/outputs.py: write_edit_outputs
ROW_SEPARATOR = ":"


@dataclass(frozen=True)
class StudyClip:
    """One run's finished edit of one clip, with what a rater is shown beside it."""

    key: str  # the clip's name in a bench folder, the task id in a toyworld folder
    category: str
    source_prompt: str
    target_prompt: str
    edited: Path
    source: Path


@dataclass
class StudyRun:
    """One method's finished clips, as given on the command line."""

    spec: str
    folder: Path
    kind: str
    method: str
    clips: dict[str, StudyClip] = field(default_factory=dict)
    label: str = ""


def read_study_run(spec: str) -> StudyRun:
    """`FOLDER` (an `aved bench run` output) or `FOLDER:ROW` (a row of an `aved toyworld bench` folder)."""
    folder, row = _split_spec(spec)
    if not folder.is_dir():
        raise AvedError(f"{spec}: no such run folder")
    document = read_json_object(folder / CONFIG_NAME, f"{folder}: not a bench folder (no {CONFIG_NAME})")
    run = document.get("run")
    if not isinstance(run, dict):
        raise AvedError(f'{folder / CONFIG_NAME}: no "run" object; not written by `aved bench run` or toyworld bench')
    records = latest_records(folder)
    if "tasks" in run:
        return _toyworld_run(spec, folder, row, records)
    if row is not None:
        raise AvedError(f"{spec}: {folder} is an `aved bench run` folder (one method); pass it without :{row}")
    return _bench_run(spec, folder, document, run, records)


def _split_spec(spec: str) -> tuple[Path, str | None]:
    """(folder, row or None); a folder whose own name holds the separator is taken whole."""
    if Path(spec).is_dir():
        return Path(spec), None
    folder, sep, row = spec.rpartition(ROW_SEPARATOR)
    if not sep or not folder or not row:
        return Path(spec), None
    return Path(folder), row


def _media_ok(*paths: Path) -> bool:
    """Every file is there and not empty (a clip cut off before it was written has no edit to show)."""
    return all(path.is_file() and path.stat().st_size > 0 for path in paths)


def _text(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    return value if isinstance(value, str) else ""


def _bench_run(
    spec: str, folder: Path, document: dict[str, Any], run: dict[str, Any], records: dict[str, dict[str, Any]]
) -> StudyRun:
    """An `aved bench run` folder: its mode (and sweep setting) is the method."""
    mode = document.get("mode")
    if not isinstance(mode, str) or not mode:
        raise AvedError(f'{folder / CONFIG_NAME}: no "mode"; not written by `aved bench run`')
    sweep = run.get("sweep") or {}
    if not isinstance(sweep, dict):
        raise AvedError(f'{folder / CONFIG_NAME}: "run"."sweep" is not an object')
    method = f"{mode} {setting_name(sweep)}" if sweep else mode
    study_run = StudyRun(spec, folder.resolve(), BENCH, method)
    for name, record in records.items():
        clip_dir = study_run.folder / "clips" / name
        edited, source = clip_dir / BENCH_EDITED, clip_dir / BENCH_SOURCE
        if record.get("status") != "ok" or not _media_ok(edited, source):
            continue
        prompts = record.get("prompts") if isinstance(record.get("prompts"), dict) else {}
        study_run.clips[name] = StudyClip(
            name, _text(record, "trg_category"), _text(prompts, "source"), _text(prompts, "target"), edited, source
        )
    return study_run


def _toyworld_run(spec: str, folder: Path, row: str | None, records: dict[str, dict[str, Any]]) -> StudyRun:
    """One row (method) of an `aved toyworld bench` folder."""
    folder = folder.resolve()
    clips: dict[str, dict[str, StudyClip]] = {}
    for record in records.values():
        task, name = record.get("task"), record.get("row")
        if not isinstance(task, str) or not isinstance(name, str) or name in (SOURCE_ROW, TRUTH_ROW):
            continue
        edited, source = clip_path(folder, task, name), clip_path(folder, task, SOURCE_ROW)
        # Older folders wrote no status: their records were written only for rows that finished.
        if record.get("status", "ok") != "ok" or not _media_ok(edited, source):
            continue
        clip = StudyClip(
            task,
            _text(record, "edit_type"),
            _text(record, "source_prompt"),
            _text(record, "target_prompt"),
            edited,
            source,
        )
        clips.setdefault(name, {})[task] = clip
    rows = ", ".join(sorted(clips)) or "none with clips"
    if row is None:
        raise AvedError(f"{spec}: a toyworld bench folder holds several methods; pass {spec}:ROW, ROW one of {rows}")
    if row not in clips:
        raise AvedError(f"{spec}: no finished clips of row {row!r} in {folder} (rows: {rows})")
    return StudyRun(spec, folder, TOYWORLD, row, clips[row])


def label_runs(runs: list[StudyRun]) -> None:
    """Each run's label: its method, else (two runs share one) its folder's name, else the folder as given."""
    seen: dict[tuple[Path, str], str] = {}
    for run in runs:
        key = (run.folder, run.method)
        if key in seen:
            raise AvedError(f"{run.spec}: the same run as {seen[key]}, given twice")
        seen[key] = run.spec
    namings = (
        lambda r: r.method,
        lambda r: r.folder.name if r.kind == BENCH else f"{r.folder.name}{ROW_SEPARATOR}{r.method}",
        lambda r: r.spec,
    )
    for run in runs:
        run.label = next((name(run) for name in namings if [name(o) for o in runs].count(name(run)) == 1), run.spec)
    labels = [run.label for run in runs]
    for run in runs:
        # A method named like another run's folder: the folders as given tell them apart.
        if labels.count(run.label) > 1:
            run.label = run.spec
