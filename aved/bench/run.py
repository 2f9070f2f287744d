"""Running AvED-Bench: edit, save and score every clip of a shard, resumably; sweeps; scale-out with accelerate."""

from __future__ import annotations

import copy
import gc
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, is_dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from aved import folders
from aved.bench.manifest import BenchRow, categories, read_manifest
from aved.bench.results import (
    CONFIG_NAME,
    MANIFEST_COPY,
    append_record,
    claim_folder,
    clean_number,
    config_hash,
    latest_records,
    merge_results,
    process_results_path,
)
from aved.bench.sweep import apply_setting, expand_sweep, setting_name
from aved.config import EditConfig
from aved.errors import AvedError
from aved.media.clip import Clip
from aved.modes import get_mode
from aved.outputs import package_versions, write_edit_outputs
from aved.priors.base import model_revisions
from aved.priors.load import load_audio_prior, load_video_prior
from aved.progress import bar_disable
from aved.result import EditResult

EditFn = Callable[..., EditResult]
# What one clip may fail with and the run still go on: bad or missing input (AvedError, OSError), numerical
# trouble (ValueError), CUDA out-of-memory and other runtime failures (torch.OutOfMemoryError is a RuntimeError).
# Anything else is a bug and stops the run; rerunning resumes where it stopped.
CLIP_ERRORS = (AvedError, RuntimeError, ValueError, OSError, MemoryError)
# A process that finishes its shard waits at the final barrier for the slowest one; the default collective
# timeout (10 min for NCCL) is far shorter than one AvED edit, so the process group is created with this.
BARRIER_TIMEOUT = timedelta(days=7)


@dataclass
class PriorCache:
    """The priors, loaded on the first clip that needs them and reused for every later clip and sweep setting."""

    loaded: dict[str, tuple[tuple, Any]] = field(default_factory=dict)

    def get(self, config: EditConfig) -> dict[str, Any]:
        """`video_prior=` / `audio_prior=` keyword arguments for `edit` in `config.mode`."""
        model, mode = config.model, get_mode(config.mode)
        wanted = {
            "video_prior": (
                mode.video,
                (model.video, model.dtype, model.device, model.compile),
                load_video_prior,
            ),
            "audio_prior": (
                mode.audio,
                (model.audio, model.dtype, model.device, model.vocoder, model.compile),
                load_audio_prior,
            ),
        }
        out = {}
        for name, (needed, key, load) in wanted.items():
            if not needed:
                continue
            if name not in self.loaded or self.loaded[name][0] != key:
                # Keep one prior per modality: a sweep over models must not pile them up in GPU memory.
                self.loaded.pop(name, None)
                self.loaded[name] = (key, load(model))
            out[name] = self.loaded[name][1]
        return out


@dataclass
class ShardSummary:
    """What one `run_benchmark` call did in its shard."""

    out_dir: Path
    results_path: Path
    total: int  # clips in this shard
    skipped: int  # already complete
    ok: int = 0  # records written this run with status ok
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # "name: error" of each failure
    process_index: int = 0
    num_processes: int = 1


# ----------------------------------------------------------------------------------------- run identity


def run_identity(config: EditConfig) -> dict[str, Any]:
    """The config fields that decide the numbers: prompts come from each row, the device is per process."""
    data = config.to_dict()
    data.pop("prompts")
    data["model"].pop("device")
    if revisions := model_revisions(config.model.video, config.model.audio):  # none for local folders: hash as before
        data["revisions"] = revisions
    return data


def run_hash(config: EditConfig, metrics: list[str]) -> str:
    """A short hash of the edit config (minus prompts and device) and the metric names."""
    return config_hash({"config": run_identity(config), "metrics": sorted(metrics)})


def _run_document(config: EditConfig, manifest: Path, videos: Path, metrics: list[str], sweep: dict) -> dict:
    """What `out_dir/config.json` holds: the config, the package versions, and the run's own settings."""
    run = {
        "manifest": str(manifest),
        "videos": str(videos),
        "metrics": list(metrics),
        "sweep": dict(sweep),
        "config_hash": run_hash(config, metrics),
    }
    return {**config.to_dict(), "versions": package_versions(), "run": run}


# ----------------------------------------------------------------------------------------- one clip


def clip_is_complete(clip_dir: Path, record: dict[str, Any] | None, row: BenchRow, digest: str) -> bool:
    """True when the clip's last record is ok for this config and prompts and every file it lists is there."""
    if not record or record.get("status") != "ok" or record.get("config_hash") != digest:
        return False
    if record.get("prompts") != row.prompts() or not record.get("files"):
        return False
    if not folders.is_complete(clip_dir):
        return False
    if not all((clip_dir / name).is_file() and (clip_dir / name).stat().st_size > 0 for name in record["files"]):
        return False
    try:
        written = json.loads((clip_dir / CONFIG_NAME).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return written.get("run", {}).get("config_hash") == digest


def edited_clip(result: EditResult) -> Clip:
    """The edit as a Clip, at the same frame times as the prepared source."""
    times = np.arange(len(result.frames)) / result.fps
    return Clip(result.frames, times, result.fps, result.audio, result.sample_rate)


def error_text(err: BaseException) -> str:
    """`Type: first line of the message`."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _free_memory() -> None:
    """After an out-of-memory error, give the cached blocks back before the next clip."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@dataclass
class _Job:
    """Everything a shard's clips share."""

    out_dir: Path
    videos: Path
    config: EditConfig
    scorer: Any
    metrics: list[str]
    categories: list[str]
    digest: str
    sweep: dict[str, str]
    edit_fn: EditFn
    priors: PriorCache
    device: str | None
    process_index: int


def _process_clip(job: _Job, row: BenchRow) -> dict[str, Any]:
    """Edit, save and score one clip; failures become the record's error instead of raising."""
    clip_dir = job.out_dir / "clips" / row.name
    record: dict[str, Any] = {
        "name": row.name,
        "index": row.index,
        "src_category": row.src_category,
        "trg_category": row.trg_category,
        "prompts": row.prompts(),
        "mode": job.config.mode,
        "sweep": job.sweep,
        "status": "error",
        "error": None,
        "stage": None,
        "metrics": dict.fromkeys(job.metrics),
        "seconds": None,
        "seconds_total": None,
        "config_hash": job.digest,
        "files": [],
        "process_index": job.process_index,
    }
    config = row.apply_to(copy.deepcopy(job.config))
    if job.device is not None:
        config.model.device = job.device
    # Outside the try: priors that cannot load are the run's problem, not this clip's.
    priors = job.priors.get(config)
    started = time.perf_counter()
    stage, out_of_memory = "read", False
    try:
        # Whatever an interrupted attempt left (files from another config, a staging folder) goes first.
        _remove_tree(clip_dir)
        path = row.clip_path(job.videos)
        if not path.is_file():
            raise AvedError(f"{path}: no such video")
        stage = "edit"
        result = job.edit_fn(path, row.src, row.trg, config, **priors, progress=False)
        record["seconds"] = round(time.perf_counter() - started, 3)
        stage = "write"
        run = {"clip": str(path), "name": row.name, "seconds": record["seconds"], "frames": len(result.frames)}
        run.update(fps=result.fps, config_hash=job.digest, sweep=job.sweep)
        files = write_edit_outputs(result, config, clip_dir, run)
        stage = "score"
        if job.scorer is not None:
            scores = job.scorer.score(
                result.source.as_clip(),
                edited_clip(result),
                row.src,
                row.trg,
                categories=job.categories,
                target_category=row.trg_category,
            )
            record["metrics"].update({name: clean_number(value) for name, value in scores.items()})
        record.update(status="ok", files=files)
    except CLIP_ERRORS as err:
        record.update(error=error_text(err), stage=stage)
        out_of_memory = isinstance(err, torch.OutOfMemoryError | MemoryError)
    if out_of_memory:
        # Only here, after the except block: the exception's traceback holds the failed step's tensors.
        _free_memory()
    record["seconds_total"] = round(time.perf_counter() - started, 3)
    record["finished_at"] = time.time()
    return record


def _remove_tree(path: Path) -> None:
    """Remove a clip folder; a missing one is fine."""
    if path.exists():
        shutil.rmtree(path)


# ----------------------------------------------------------------------------------------- a shard


def check_inputs(manifest: str | Path, videos: str | Path, out: str | Path) -> tuple[Path, Path, Path]:
    """The manifest is a file, the videos a folder, the results a folder a run can write: checked before any work."""
    manifest, videos = Path(manifest), Path(videos)
    if not manifest.is_file():
        raise AvedError(f"{manifest}: no such manifest file")
    if not videos.is_dir():
        raise AvedError(f"{videos}: no such videos folder")
    return manifest, videos, folders.check_folder_path(out)


def shard_rows(rows: list[BenchRow], process_index: int, num_processes: int) -> list[BenchRow]:
    """Rows i with i % num_processes == process_index: fixed by the manifest alone, so processes never disagree."""
    if num_processes < 1 or not 0 <= process_index < num_processes:
        raise AvedError(f"process {process_index} of {num_processes}: need 0 ≤ index < number of processes")
    return rows[process_index::num_processes]


def run_benchmark(
    manifest: str | Path,
    videos_dir: str | Path,
    out_dir: str | Path,
    config: EditConfig,
    scorer: Any = None,
    *,
    process_index: int = 0,
    num_processes: int = 1,
    progress: bool = True,
    edit_fn: EditFn | None = None,
    priors: PriorCache | None = None,
    device: str | None = None,
    sweep: dict[str, str] | None = None,
) -> ShardSummary:
    """Edit, save (`out_dir/clips/<name>/`) and score this process's shard, appending to its results file.

    Clips whose last record is ok for this config and whose files are all there are skipped; every other clip
    (never run, interrupted, or failed before) is done again. `scorer.metrics` names the metrics it returns;
    `device` overrides `config.model.device` for this process without changing the run's identity.
    """
    if edit_fn is None:
        from aved.api import edit as edit_fn
    manifest, videos_dir, out_dir = check_inputs(manifest, videos_dir, out_dir)
    rows = read_manifest(manifest)
    shard = shard_rows(rows, process_index, num_processes)
    config = copy.deepcopy(config).validate()
    metrics = list(getattr(scorer, "metrics", ())) if scorer is not None else []
    document = _run_document(config, manifest, videos_dir, metrics, sweep or {})
    job = _Job(
        out_dir=out_dir,
        videos=videos_dir,
        config=config,
        scorer=scorer,
        metrics=metrics,
        categories=categories(rows),
        digest=document["run"]["config_hash"],
        sweep=dict(sweep or {}),
        edit_fn=edit_fn,
        priors=priors if priors is not None else PriorCache(),
        device=device,
        process_index=process_index,
    )
    # One holder per shard: a second run on the same folder (and shard) is refused, it would redo and clobber clips.
    with folders.shard_lock(out_dir, process_index, num_processes):
        claim_folder(out_dir, document)
        # The copy gives merge_results and the report the clip order and categories, wherever the manifest moves.
        folders.atomic_write(out_dir / MANIFEST_COPY, manifest.read_bytes())
        return _run_shard(job, shard, num_processes, progress)


def _run_shard(job: _Job, shard: list[BenchRow], num_processes: int, progress: bool) -> ShardSummary:
    """The clips of a claimed, locked shard that are not complete yet."""
    out_dir, process_index, config = job.out_dir, job.process_index, job.config
    latest = latest_records(out_dir)
    pending = [r for r in shard if not clip_is_complete(out_dir / "clips" / r.name, latest.get(r.name), r, job.digest)]
    summary = ShardSummary(out_dir, process_results_path(out_dir, process_index), len(shard), len(shard) - len(pending))
    summary.process_index, summary.num_processes = process_index, num_processes
    label = f"bench {setting_name(job.sweep) or config.mode}"
    if num_processes > 1:
        label += f" [{process_index + 1}/{num_processes}]"
    return run_pending(pending, lambda row: [_process_clip(job, row)], summary, label, "clip", progress)


def run_pending(
    items: list[Any],
    process: Callable[[Any], Iterable[dict[str, Any]]],
    summary: ShardSummary,
    label: str,
    unit: str,
    progress: bool,
) -> ShardSummary:
    """Each pending item of a shard through `process`, every record it yields appended to the shard's results file
    as it comes (so a stopped run resumes from there); a record whose status is not "ok" is a failure. Both benches'
    loop (AvED-Bench's clips, ToyWorld's tasks)."""
    # `initial` counts the skipped items as done, and tqdm's rate (hence the ETA) counts only items run now.
    bar = tqdm(
        total=summary.total,
        initial=summary.skipped,
        desc=label,
        unit=unit,
        position=summary.process_index,
        disable=bar_disable(progress),
        dynamic_ncols=True,
    )
    with bar:
        for item in items:
            for record in process(item):
                append_record(summary.results_path, record)
                if record["status"] == "ok":
                    summary.ok += 1
                else:
                    summary.failed += 1
                    summary.errors.append(f"{record['name']}: {record['error']}")
                bar.set_postfix(failed=summary.failed, refresh=False)
            bar.update(1)
    return summary


# ----------------------------------------------------------------------------------------- sweeps and scale-out


def sweep_dirs(out_dir: str | Path, settings: list[dict[str, str]]) -> list[Path]:
    """`out_dir` itself without a sweep, else one subfolder per setting; two settings never share a folder."""
    out_dir = Path(out_dir)
    if not settings:
        return [out_dir]
    names = [setting_name(s) for s in settings]
    if len(set(names)) != len(names):
        raise AvedError("--sweep: two settings map to the same folder name; use values that differ in letters")
    return [out_dir / name for name in names]


def run_sweep(
    manifest: str | Path,
    videos_dir: str | Path,
    out_dir: str | Path,
    config: EditConfig,
    scorer: Any = None,
    sweeps: list[str] | tuple[str, ...] = (),
    **kwargs: Any,
) -> list[ShardSummary]:
    """`run_benchmark` for each grid setting of `sweeps` into `out_dir/<setting>/` (into `out_dir` without one)."""
    settings = expand_sweep(list(sweeps))
    configs = [apply_setting(config, s) for s in settings] or [copy.deepcopy(config).validate()]
    dirs = sweep_dirs(out_dir, settings)
    kwargs.setdefault("priors", PriorCache())  # one set of priors for every setting
    return [
        run_benchmark(manifest, videos_dir, folder, cfg, scorer, sweep=setting, **kwargs)
        for folder, cfg, setting in zip(dirs, configs, settings or [{}], strict=True)
    ]


def _state():
    """The accelerate process state, created with a barrier timeout long enough for uneven shards."""
    from accelerate import PartialState

    # Without cpu=True accelerate treats CPU processes started by torchrun as one process each, and every
    # process would run the whole manifest into the same files.
    cpu = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes") or not torch.cuda.is_available()
    state = PartialState(cpu=cpu, timeout=BARRIER_TIMEOUT)
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if state.num_processes != launched:
        raise AvedError(f"launched as {launched} processes, but accelerate sees {state.num_processes}")
    return state


def shard_from_accelerate() -> tuple[int, int]:
    """(process_index, num_processes) of this process under `accelerate launch` ((0, 1) when not launched)."""
    state = _state()
    return state.process_index, state.num_processes


def make_scorer(metrics: list[str], metric_models: Any = None, device: str | None = None) -> Any:
    """`aved.metrics.Scorer` for `metrics` on `device` (this process's accelerator); None without metrics."""
    if not metrics:
        return None
    from aved.metrics import MetricModels, Scorer

    models = metric_models if metric_models is not None else MetricModels()
    if device is not None and is_dataclass(models) and getattr(models, "device", None) == "auto":
        models = replace(models, device=device)
    return Scorer(metrics=list(metrics), models=models)


def run_command(
    manifest: str | Path,
    videos: str | Path,
    out: str | Path,
    config: EditConfig,
    metrics: list[str] | tuple[str, ...] = (),
    metric_models: Any = None,
    *,
    sweeps: list[str] | tuple[str, ...] = (),
    progress: bool = True,
    edit_fn: EditFn | None = None,
) -> list[ShardSummary]:
    """`aved bench run`: this process's shard of every sweep setting, then (main process) the merged results.

    Under `accelerate launch` each process takes every n-th clip on its own device; run plainly, it is one
    process doing every clip. Returns this process's summaries, one per result folder.
    """
    check_inputs(manifest, videos, out)
    state = _state()
    device = str(state.device) if config.model.device == "auto" else None
    scorer = make_scorer(list(metrics), metric_models, device)
    summaries = run_sweep(
        manifest,
        videos,
        out,
        config,
        scorer,
        sweeps,
        process_index=state.process_index,
        num_processes=state.num_processes,
        progress=progress,
        edit_fn=edit_fn,
        device=device,
    )
    state.wait_for_everyone()
    if state.is_main_process:
        for summary in summaries:
            merge_results(summary.out_dir)
    return summaries
