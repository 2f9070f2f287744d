"""`aved toyworld bench`: each editing mode on each ToyWorld task, scored against the ground truth; resumable.

Every task is also scored as `source` (no edit) and `ground truth` (the target render), the rows every mode
sits between, and as both passed through the priors' encoders and decoders alone (`source via VAEs`, `truth
via VAEs`): the ceilings no decoded edit can beat. The folder, its config.json, the shard locks, the per-shard results
files, the resume and the run loop are AvED-Bench's (aved/bench/); this module adds the tasks and their rows.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aved import folders
from aved.bench.results import claim_folder, clean_number, config_hash, latest_records, process_results_path
from aved.bench.run import CLIP_ERRORS, PriorCache, ShardSummary, error_text, run_identity, run_pending
from aved.bench.tables import RECORD_DIGITS
from aved.codec import PreparedClip, prepare_clip, reconstruct, window_boundaries
from aved.config import EditConfig, apply_overrides
from aved.errors import AvedError
from aved.media.clip import write_clip
from aved.modes import ABLATIONS, DEFAULT_ABLATIONS, MODES
from aved.outputs import package_versions
from aved.toyworld.metrics import SCORER_VERSION, score_row
from aved.toyworld.tasks import EditTask, task_set

DEFAULT_ROWS = ("aved", "independent", "dds", "sdedit", "video-only", "audio-only", *DEFAULT_ABLATIONS)
BENCH_ROWS = (*DEFAULT_ROWS, *(m for m in (*MODES, *ABLATIONS) if m not in DEFAULT_ROWS))  # the tables' row order
SOURCE_ROW, TRUTH_ROW = "source", "ground truth"
SOURCE_CODEC_ROW, TRUTH_CODEC_ROW = "source via VAEs", "truth via VAEs"
REFERENCE_ROWS = (SOURCE_ROW, SOURCE_CODEC_ROW, TRUTH_CODEC_ROW, TRUTH_ROW)
# Compositing acts on the decoded frames after the last step (aved.editor), so `aved` with it off is `aved`'s frames
# before it and `aved`'s sound, bit for bit (tests/test_toyworld_bench.py): no edit of its own.
UNCOMPOSITED_ROW = "aved-no-composite"


def run_document(config: EditConfig, count: int, task_seed: int) -> dict[str, Any]:
    """The folder's config.json: what makes two runs comparable (modes may be added to a folder later)."""
    config = copy.deepcopy(config)
    config.media.duration = config.media.span()  # the tasks' length: an unset duration and 2 s are one run
    doc = config.to_dict()
    doc.pop("mode")
    doc.pop("prompts")
    # AvED-Bench's identity (no prompts, no device, the hub revisions) less the mode: a folder holds every mode.
    identity = {k: v for k, v in run_identity(config).items() if k != "mode"}
    identity = {"config": identity, "tasks": count, "task_seed": task_seed, "scorer": SCORER_VERSION}
    run = {"tasks": count, "task_seed": task_seed, "scorer": SCORER_VERSION, "config_hash": config_hash(identity)}
    return {**doc, "versions": package_versions(), "run": run}


def run_bench(
    out_dir: str | Path,
    config: EditConfig,
    modes: list[str],
    count: int = 110,
    task_seed: int = 0,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
    priors: PriorCache | None = None,
) -> ShardSummary:
    """Edit and score every task in every mode (plus the source and truth rows) not yet in the results.

    Shard (i, n) takes tasks i, i + n, … and appends to its own results file, so n processes can share a folder.
    """
    unknown = [m for m in modes if m not in BENCH_ROWS]
    if unknown:
        raise AvedError(f"unknown mode {unknown[0]!r} for the toyworld bench, use {', '.join(BENCH_ROWS)}")
    modes = [m for m in BENCH_ROWS if m in modes]  # the rows made of other rows' halves after those rows
    config = copy.deepcopy(config).validate()
    if config.media.span() is None:
        raise AvedError("media.duration: the toyworld bench renders its tasks at a length, give seconds (not all)")
    out_dir = folders.check_folder_path(out_dir)
    # A shard has one writer: a second process on the same folder and shard would redo its tasks into one file.
    cache = priors if priors is not None else PriorCache()
    # Priors that cannot load are the run's problem, before any folder is claimed, not each row's.
    sound_prior = cache.get(dataclasses.replace(config, mode="aved"))["audio_prior"]
    with folders.shard_lock(out_dir, *shard):
        claim_folder(out_dir, run_document(config, count, task_seed))
        done = set(latest_ok(out_dir))
        tasks = task_set(seed=task_seed, count=count, duration=config.media.span())[shard[0] :: shard[1]]
        pending = [
            (t, rows) for t in tasks if (rows := [r for r in (*REFERENCE_ROWS, *modes) if _name(t, r) not in done])
        ]
        summary = ShardSummary(out_dir, process_results_path(out_dir, shard[0]), len(tasks), len(tasks) - len(pending))
        summary.process_index, summary.num_processes = shard
        label = "toyworld bench" + (f" [{shard[0] + 1}/{shard[1]}]" if shard[1] > 1 else "")
        return run_pending(
            pending,
            lambda item: _task_records(out_dir, config, cache, sound_prior, *item),
            summary,
            label,
            "task",
            progress,
        )


def clip_path(out_dir: str | Path, task_id: str, row: str) -> Path:
    """Where a bench folder keeps a row's clip of a task (`source` included; the ground truth is rendered)."""
    return Path(out_dir) / "clips" / task_id / f"{row.replace(' ', '-')}.mp4"


def _name(task: EditTask, row: str) -> str:
    return f"{task.id}/{row}"


def _task_records(
    out_dir: Path, config: EditConfig, priors: PriorCache, sound_prior, task: EditTask, rows: list[str]
) -> Iterator[dict[str, Any]]:
    """One record per pending row of one task, each yielded as soon as it is scored."""
    source = prepare_clip(task.source_clip(), config.media)
    truth = prepare_clip(task.target_clip(), config.media)
    boundaries = window_boundaries(sound_prior, config.media, len(source.audio) / source.sample_rate)
    made: dict[str, PreparedClip] = {SOURCE_ROW: source}  # this task's clips so far, for rows made of others'
    for row in rows:
        record: dict[str, Any] = {
            "name": _name(task, row),
            "task": task.id,
            "edit_type": task.edit_type,
            "row": row,
            "source_prompt": task.source_prompt,
            "target_prompt": task.target_prompt,
            "status": "error",
            "error": None,
            "seconds": None,
        }
        try:
            edited, seconds = _row_clip(row, task, source, truth, made, config, priors)
            made[row] = edited
            if row != TRUTH_ROW:  # the source too: a study page (aved study) shows it beside the edits
                (out_dir / "clips" / task.id).mkdir(parents=True, exist_ok=True)
                write_clip(clip_path(out_dir, task.id, row), *_clip_args(edited))
            scores = score_row(task, source, truth, edited, config.media.mel, boundaries)
            record.update({k: _recorded(v) for k, v in scores.items()}, status="ok", seconds=seconds)
        except CLIP_ERRORS as err:
            record["error"] = error_text(err)
        record["finished_at"] = time.time()
        yield record


def _row_clip(
    row: str,
    task: EditTask,
    source: PreparedClip,
    truth: PreparedClip,
    made: dict[str, PreparedClip],
    config: EditConfig,
    priors: PriorCache,
) -> tuple[PreparedClip, float | None]:
    """The clip a row scores and the seconds it took (None where it is not an edit of its own); `aved`'s edit also
    puts its frames before compositing into `made` as `aved-no-composite`'s clip."""
    from aved.api import edit

    if row in (SOURCE_ROW, TRUTH_ROW):
        return (source if row == SOURCE_ROW else truth), None
    if row in made:  # made by another row's edit
        return made[row], None
    halves = composed_of(row, config)
    if halves is not None and set(halves) <= made.keys():
        frames, sound = (made[h] for h in halves)
        return PreparedClip(frames.frames, frames.fps, sound.audio, sound.sample_rate), None
    mode = MODES.get(row)
    run_config = dataclasses.replace(copy.deepcopy(config), mode=row if mode is not None else "aved")
    apply_overrides(run_config, ABLATIONS.get(row, {}))
    loaded = priors.get(dataclasses.replace(run_config, mode="aved"))  # loading is not a row's time
    started = time.perf_counter()
    if row in (SOURCE_CODEC_ROW, TRUTH_CODEC_ROW):
        original = source if row == SOURCE_CODEC_ROW else truth
        edited = reconstruct(original, loaded["video_prior"], loaded["audio_prior"], config.media)
    else:
        run_config.prompts = dataclasses.replace(config.prompts, source=task.source_prompt, target=task.target_prompt)
        result = edit(source, config=run_config, progress=False, **priors.get(run_config))
        edited = PreparedClip(result.frames, result.fps, result.audio, result.sample_rate)
        if row == "aved" and result.decoded_frames is not None:
            made[UNCOMPOSITED_ROW] = PreparedClip(result.decoded_frames, result.fps, result.audio, result.sample_rate)
    return edited, round(time.perf_counter() - started, 2)


def _recorded(value: float | None) -> float | None:
    """A metric as a record holds it: NaN and ±inf as null (clean_number), the rest to RECORD_DIGITS decimals."""
    number = clean_number(value)
    return None if number is None else round(number, RECORD_DIGITS)


def _clip_args(clip: PreparedClip) -> tuple:
    return clip.frames, clip.fps, clip.audio, clip.sample_rate


def composed_of(row: str, config: EditConfig) -> tuple[str, str] | None:
    """(the row whose frames, the row whose sound) a row is bit for bit (tests/test_editor.py), or None for an edit.

    `video-only`/`audio-only` are one half of `independent`, the source the other. Without motion `aved` has
    `independent`'s frames and its own sound while the sync term is v2's timing term, which reads the sound only.
    """
    mode = MODES.get(row)
    if mode is not None and mode.half_of is not None:
        return (mode.half_of, SOURCE_ROW) if mode.video else (SOURCE_ROW, mode.half_of)
    if row == "aved-no-motion" and config.sync.form == "timing":
        return "independent", "aved"
    return None


def latest_ok(out_dir: str | Path) -> dict[str, dict[str, Any]]:
    """name → the latest record of each (task, row) that finished, over every results file of the folder."""
    return {n: r for n, r in latest_records(out_dir).items() if r.get("status", "ok") == "ok" and "row" in r}


def read_results(out_dir: str | Path) -> list[dict[str, Any]]:
    """The finished records of a bench folder, one per (task, row), by task."""
    return sorted(latest_ok(out_dir).values(), key=lambda r: r["task"])
