"""`aved toyworld bench`: each editing mode on each ToyWorld task, scored against the ground truth; resumable.

Every task is also scored as `source` (no edit) and `ground truth` (the target render), the rows every mode
sits between, and as both passed through the priors' encoders and decoders alone (`source via VAEs`, `truth
via VAEs`): the ceilings no edit can beat. Results are appended one line per (task, row) to results.jsonl, so
a stopped run resumes.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from aved import folders
from aved.bench.report import Stat, _csv_text, _markdown_table, summarize
from aved.bench.results import append_record, read_records
from aved.codec import PreparedClip, prepare_clip, reconstruct
from aved.config import EditConfig, MelConfig, apply_overrides
from aved.errors import AvedError
from aved.media.clip import write_clip
from aved.media.mel import waveform_to_mel
from aved.metrics.av_align import av_align
from aved.toyworld.evaluate import frame_attributes
from aved.toyworld.render import trajectory
from aved.toyworld.scorers import (
    background_psnr,
    bounce_times,
    centroid,
    event_scores,
    object_mask,
    onset_timing,
    sound_events,
    visible_impacts,
)
from aved.toyworld.tasks import EditTask, task_set

BENCH_MODES = ("aved", "independent", "dds", "sdedit", "video-only", "audio-only")
# Ablations of the v2 objective (DESIGN §2b): `aved` with one term off, or in its v1 form. `aved` without its sync
# term is `independent`.
ABLATIONS = {"aved-no-pres": {"weights.pres": 0.0}, "aved-sync-v1": {"sync.form": "infonce"}}
BENCH_ROWS = (*BENCH_MODES, *ABLATIONS)
DEFAULT_ROWS = (*BENCH_MODES, "aved-no-pres")
SOURCE_ROW, TRUTH_ROW = "source", "ground truth"
SOURCE_CODEC_ROW, TRUTH_CODEC_ROW = "source via VAEs", "truth via VAEs"
REFERENCE_ROWS = (SOURCE_ROW, SOURCE_CODEC_ROW, TRUTH_CODEC_ROW, TRUTH_ROW)
VISUAL = ("kind", "colour", "background")
# metric → column title (arrow: which way is better)
METRICS = {
    "frame_target_acc": "target attr. acc. frames ↑",
    "sound_target_acc": "target kind acc. sound ↑",
    "frame_leak": "unwanted change frames ↓",
    "sound_leak": "unwanted change sound ↓",
    "trajectory_px": "trajectory err. px ↓",
    "background_psnr": "kept background PSNR vs source dB ↑",
    "bounce_recall": "bounce recall frames ↑",
    "bounce_precision": "bounce precision frames ↑",
    "bounce_f1": "bounce F1 frames ↑",
    "sound_recall": "sound-event recall ↑",
    "sound_precision": "sound-event precision ↑",
    "sound_f1": "sound-event F1 ↑",
    "sound_extra": "extra sound events / clip ↓",
    "onset_ms": "onset err. ms ↓",
    "onset_bias_ms": "onset bias ms (0 best)",
    "av_align": "AV-Align ↑",
    "gt_psnr": "PSNR vs truth dB ↑",
    "gt_mel_l1": "mel L1 vs truth ↓",
}
RESULTS, SETTINGS = "results.jsonl", "bench.json"
TYPE_METRICS = ("frame_target_acc", "sound_target_acc", "frame_leak", "background_psnr", "sound_f1", "av_align")
ONE_DECIMAL = ("trajectory_px", "background_psnr", "onset_ms", "onset_bias_ms", "gt_psnr")
FDR = 0.05  # false discovery rate of the paired table's better/worse marks (Benjamini–Hochberg)
PLOT_COLUMNS = 5
# Bumped when a metric changes meaning (2: background PSNR on kept backgrounds only, events, ceiling rows), so a
# folder scored by another version is not resumed into one table.
SCORER_VERSION = 2
RECORD_DIGITS = 5  # a metric is recorded to 5 decimals; a paired mean smaller than that is no difference
# Each single-modality mode is one half of an `independent` edit, bit for bit (tests/test_editor.py): when this
# process has just run `independent` on a task, its halves are taken from it instead of being edited again.
HALF_OF_INDEPENDENT = ("video-only", "audio-only")


# ----------------------------------------------------------------------------------------------- scoring


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB) of two uint8 arrays."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 100.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def frame_metrics(
    task: EditTask, frames: np.ndarray, source: np.ndarray, truth: np.ndarray, impacts: np.ndarray, fps: float
) -> dict[str, float]:
    """Attribute accuracy and leakage, trajectory error, kept-background PSNR vs the source, visible bounces
    against the impacts, PSNR vs the truth. Background PSNR is left out where the edit changes the background."""
    changed = [a for a in VISUAL if a in task.changed] or list(VISUAL)  # identity: every attribute is a target
    kept = [a for a in VISUAL if a not in task.changed]
    hits, leaks, distances, psnrs = [], [], [], []
    for frame, original in zip(frames, source, strict=True):
        found = frame_attributes(frame)
        hits += [found[a] == getattr(task.target, a) for a in changed]
        leaks += [found[a] != getattr(task.source, a) for a in kept]
        mask, source_mask = object_mask(frame), object_mask(original)
        if mask.any() and source_mask.any():
            distances.append(float(np.hypot(*np.subtract(centroid(mask), centroid(source_mask)))))
        psnrs.append(background_psnr(frame, original, mask, source_mask))
    keeps_background = "background" not in task.changed and not np.isnan(psnrs).all()
    bounces = event_scores(bounce_times(frames, fps), visible_impacts(impacts, len(frames), fps))
    return {
        "frame_target_acc": _mean(hits),
        "frame_leak": _mean(leaks),
        "trajectory_px": _mean(distances),
        "background_psnr": float(np.nanmean(psnrs)) if keeps_background else math.nan,
        **{f"bounce_{name}": value for name, value in bounces.items()},
        "gt_psnr": _psnr(frames, truth),
    }


def sound_metrics(
    task: EditTask, audio: np.ndarray, rate: int, impacts: np.ndarray, truth_mel: torch.Tensor, mel_config: MelConfig
) -> dict[str, float]:
    """Target-kind accuracy and kind leakage of the sound events; recall, precision, F1 and extra events against
    the impacts; onset error and bias (found − true) of the matched events; mel L1 vs truth.

    A soundtrack with no event scores 0 accuracy and, where the sound should have stayed, full leakage.
    """
    events = sound_events(audio, rate)
    kinds = [kind for _, kind in events]
    if "kind" in task.changed:
        leak = math.nan
    else:
        leak = _mean([k != task.source.kind for k in kinds]) if kinds else 1.0
    found = np.asarray([onset for onset, _ in events])
    timing = onset_timing(found, impacts)
    mel, _ = waveform_to_mel(audio, rate, mel_config)
    return {
        "sound_target_acc": _mean([k == task.target.kind for k in kinds]) if kinds else 0.0,
        "sound_leak": leak,
        **{f"sound_{name}": value for name, value in event_scores(found, impacts).items()},
        "sound_extra": timing["extra"],
        "onset_ms": timing["onset_ms"],
        "onset_bias_ms": timing["onset_bias_ms"],
        "gt_mel_l1": float((mel - truth_mel).abs().mean()),
    }


def score_row(task: EditTask, source: PreparedClip, truth: PreparedClip, edited: PreparedClip, mel: MelConfig):
    """Every metric of one edited clip (frames at the engine's fps and size, sound at any rate)."""
    span = len(source.frames) / source.fps
    impacts = trajectory(task.source).impacts
    impacts = impacts[impacts < span]
    truth_mel = waveform_to_mel(truth.audio, truth.sample_rate, mel)[0]
    return {
        **frame_metrics(task, edited.frames, source.frames, truth.frames, impacts, edited.fps),
        **sound_metrics(task, edited.audio, edited.sample_rate, impacts, truth_mel, mel),
        "av_align": av_align(edited.frames, edited.fps, edited.audio, edited.sample_rate),
    }


# ----------------------------------------------------------------------------------------------- running


def _settings(config: EditConfig, count: int, task_seed: int) -> dict[str, Any]:
    """What makes two runs comparable (modes may be added to a folder later)."""
    doc = config.to_dict()
    doc.pop("mode")
    doc.pop("prompts")
    return {"tasks": count, "task_seed": task_seed, "scorer": SCORER_VERSION, "config": doc}


def claim_folder(out_dir: Path, settings: dict[str, Any]) -> None:
    """Create out_dir with its settings, or refuse one that holds a run with other settings."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SETTINGS
    if path.exists():
        saved = json.loads(path.read_text())
        if saved != json.loads(json.dumps(settings)):
            raise AvedError(
                f"{out_dir}: holds a toyworld bench run with other settings (see {SETTINGS}); use another --out"
            )
        return
    folders.atomic_write(path, json.dumps(settings, indent=2) + "\n")


def run_bench(
    out_dir: str | Path,
    config: EditConfig,
    modes: list[str],
    count: int = 110,
    task_seed: int = 0,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
) -> Path:
    """Edit and score every task in every mode (plus the source and truth rows) not yet in the results.

    Shard (i, n) takes tasks i, i + n, … and appends to its own results file, so n processes can share a folder.
    """
    unknown = [m for m in modes if m not in BENCH_ROWS]
    if unknown:
        raise AvedError(f"unknown mode {unknown[0]!r} for the toyworld bench, use {', '.join(BENCH_ROWS)}")
    out_dir = folders.check_folder_path(out_dir)
    # A shard has one writer: a second process on the same folder and shard would redo its tasks into one file.
    with folders.shard_lock(out_dir, *shard):
        claim_folder(out_dir, _settings(config, count, task_seed))
        return _run_tasks(out_dir, config, modes, count, task_seed, shard, progress)


def _run_tasks(
    out_dir: Path, config: EditConfig, modes: list[str], count: int, task_seed: int, shard: tuple[int, int], progress
) -> Path:
    """The pending rows of this shard's tasks, appended to its results file."""
    from aved.api import edit
    from aved.priors.load import load_audio_prior, load_video_prior

    results = out_dir / (RESULTS if shard[1] == 1 else f"results.{shard[0]}of{shard[1]}.jsonl")
    done = {(r["task"], r["row"]) for r in read_results(out_dir)}
    tasks = task_set(seed=task_seed, count=count, duration=config.media.duration)[shard[0] :: shard[1]]
    pending = {t.id: [r for r in (*REFERENCE_ROWS, *modes) if (t.id, r) not in done] for t in tasks}
    todo = [t for t in tasks if pending[t.id]]
    priors: dict[str, Any] = {}
    # A resumed run starts its bar at the tasks already done, so the rate and ETA count only this run's work.
    bar = tqdm(
        todo,
        total=len(tasks),
        initial=len(tasks) - len(todo),
        desc="toyworld bench",
        unit="task",
        disable=not progress,
        dynamic_ncols=True,
    )
    for task in bar:
        rows = pending[task.id]
        source = prepare_clip(task.source_clip(), config.media)
        truth = prepare_clip(task.target_clip(), config.media)
        independent = None
        clip_dir = out_dir / "clips" / task.id
        for row in rows:
            bar.set_postfix_str(f"{task.id} {row}")
            if row not in (SOURCE_ROW, TRUTH_ROW, *HALF_OF_INDEPENDENT) and not priors:  # loading is not a row's time
                priors = {"video_prior": load_video_prior(config.model), "audio_prior": load_audio_prior(config.model)}
            started = time.perf_counter()
            timed = True
            if row in (SOURCE_ROW, TRUTH_ROW):
                edited = source if row == SOURCE_ROW else truth
            elif row in HALF_OF_INDEPENDENT and independent is not None:
                edited, timed = independent_half(row, source, independent), False
            else:
                if row in (SOURCE_CODEC_ROW, TRUTH_CODEC_ROW):
                    original = source if row == SOURCE_CODEC_ROW else truth
                    edited = reconstruct(original, priors["video_prior"], priors["audio_prior"], config.media)
                else:
                    run_config = dataclasses.replace(copy.deepcopy(config), mode=row if row in BENCH_MODES else "aved")
                    apply_overrides(run_config, ABLATIONS.get(row, {}))
                    run_config.prompts = dataclasses.replace(
                        config.prompts, source=task.source_prompt, target=task.target_prompt
                    )
                    result = edit(source.as_clip(), config=run_config, progress=False, **priors)
                    edited = PreparedClip(result.frames, result.fps, result.audio, result.sample_rate)
                    if row == "independent":
                        independent = edited
            if row not in (SOURCE_ROW, TRUTH_ROW):
                clip_dir.mkdir(parents=True, exist_ok=True)
                write_clip(clip_dir / f"{row.replace(' ', '-')}.mp4", *_clip_args(edited))
            seconds = round(time.perf_counter() - started, 2) if timed else None  # a half's time is not its own
            scores = score_row(task, source, truth, edited, config.media.mel)
            record = {
                "name": f"{task.id}/{row}",
                "task": task.id,
                "edit_type": task.edit_type,
                "row": row,
                "source_prompt": task.source_prompt,
                "target_prompt": task.target_prompt,
                "seconds": seconds,
                **{
                    k: None if v is None or not math.isfinite(v) else round(float(v), RECORD_DIGITS)
                    for k, v in scores.items()
                },
            }
            append_record(results, record)
    return results


def _clip_args(clip: PreparedClip) -> tuple:
    return clip.frames, clip.fps, clip.audio, clip.sample_rate


def independent_half(row: str, source: PreparedClip, both: PreparedClip) -> PreparedClip:
    """The `video-only` or `audio-only` edit out of an `independent` one: its edited modality, the source's other."""
    if row == "video-only":
        return PreparedClip(both.frames, both.fps, source.audio, source.sample_rate)
    return PreparedClip(source.frames, source.fps, both.audio, both.sample_rate)


def read_results(out_dir: Path) -> list[dict[str, Any]]:
    """The readable records of every results file in out_dir, the last one of each (task, row) winning."""
    latest = {}
    for path in sorted(Path(out_dir).glob("results*.jsonl")):
        for record in read_records(path):
            latest[(record["task"], record["row"])] = record
    return sorted(latest.values(), key=lambda r: r["task"])


# ----------------------------------------------------------------------------------------------- report


def _row_order(records: list[dict[str, Any]]) -> list[str]:
    present = {r["row"] for r in records}
    order = (SOURCE_ROW, SOURCE_CODEC_ROW, *BENCH_ROWS, TRUTH_CODEC_ROW, TRUTH_ROW)
    return [r for r in order if r in present]


def summary_tables(records: list[dict[str, Any]]) -> tuple[str, str, str]:
    """(markdown table, CSV of the same, CSV per edit type) of mean ± 95 % CI per row and metric."""
    header = ["row", "tasks", *METRICS.values(), "s/task"]
    md_rows, csv_rows = [], []
    for row in _row_order(records):
        items = [r for r in records if r["row"] == row]
        stats = {m: summarize(r.get(m) for r in items) for m in METRICS}
        seconds = summarize(r.get("seconds") for r in items)
        digits = {m: 1 if m in ONE_DECIMAL else 3 for m in METRICS}
        timing = f"{seconds.mean:.1f}" if seconds.n else "—"
        md_rows.append([row, str(len(items)), *(stats[m].text(digits[m]) for m in METRICS), timing])
        csv_rows.append([row, len(items), *(v for m in METRICS for v in (stats[m].mean, stats[m].half)), seconds.mean])
    csv_header = ["row", "tasks", *(f"{m}_{p}" for m in METRICS for p in ("mean", "ci95")), "seconds_mean"]
    by_type_header = ["row", "edit_type", "tasks", *METRICS]
    by_type = [
        [row, edit_type, count, *(means[m] for m in METRICS)]
        for (row, edit_type), (count, means) in edit_type_means(records).items()
    ]
    return (
        _markdown_table(header, md_rows),
        _csv_text(csv_header, csv_rows),
        _csv_text(by_type_header, by_type),
    )


def paired_differences(records: list[dict[str, Any]], mode: str, other: str) -> dict[str, Stat]:
    """Per metric, mean ± 95 % t-interval of (mode − other) over the tasks where both rows have a value."""
    by_key = {(r["task"], r["row"]): r for r in records}
    tasks = sorted({r["task"] for r in records})
    stats = {}
    for metric in METRICS:
        diffs = []
        for task in tasks:
            a, b = by_key.get((task, mode)), by_key.get((task, other))
            if a is not None and b is not None and a.get(metric) is not None and b.get(metric) is not None:
                diffs.append(a[metric] - b[metric])
        stats[metric] = summarize(diffs)
    return stats


def paired_p_value(stat: Stat) -> float:
    """Two-sided p of the paired t-test behind a paired Stat (t = mean / (half / t₀.₉₇₅)); NaN below 2 tasks."""
    from scipy.stats import t

    if stat.n < 2 or math.isnan(stat.half):
        return math.nan
    if stat.half == 0:
        return 1.0 if stat.mean == 0 else 0.0
    score = stat.mean / (stat.half / t.ppf(0.975, stat.n - 1))
    return float(2 * t.sf(abs(score), stat.n - 1))


def judged(metric: str) -> bool:
    """Metrics whose title says which way is better (onset bias has no better sign)."""
    return METRICS[metric].endswith(("↑", "↓"))


def adjusted_p_values(stats: dict[tuple[str, str], Stat]) -> dict[tuple[str, str], float]:
    """Benjamini–Hochberg adjusted p of every judged (pair, metric) with a defined test; NaN for the rest."""
    from scipy.stats import false_discovery_control

    keys = [k for k, stat in stats.items() if judged(k[1]) and not math.isnan(paired_p_value(stat))]
    out = dict.fromkeys(stats, math.nan)
    if keys:
        adjusted = false_discovery_control([paired_p_value(stats[k]) for k in keys], method="bh")
        out.update(zip(keys, map(float, adjusted), strict=True))
    return out


def verdict(stat: Stat, metric: str, adjusted_p: float) -> str:
    """'better' or 'worse' where the BH-adjusted p is below FDR (the title's arrow says which sign is better)."""
    if not judged(metric) or math.isnan(adjusted_p) or adjusted_p >= FDR or abs(stat.mean) < 10**-RECORD_DIGITS:
        return ""
    return "better" if (stat.mean > 0) == METRICS[metric].endswith("↑") else "worse"


def paired_tables(records: list[dict[str, Any]], mode: str = "aved") -> tuple[str, str]:
    """(markdown, CSV) of `mode` minus every other editing mode, paired by task, marks controlled by BH."""
    others = [r for r in _row_order(records) if r in BENCH_ROWS and r != mode]
    if mode not in {r["row"] for r in records} or not others:
        return "", ""
    stats = {(o, m): stat for o in others for m, stat in paired_differences(records, mode, o).items()}
    adjusted = adjusted_p_values(stats)
    md_rows, csv_rows = [], []
    for other in others:
        cells = []
        for metric in METRICS:
            stat = stats[other, metric]
            word = verdict(stat, metric, adjusted[other, metric])
            text = (
                "—"
                if stat.n == 0
                else f"{stat.mean:+.3f}" + (f" (n={stat.n})" if stat.n < 2 else f" ± {stat.half:.3f}")
            )
            cells.append(f"**{text} {word}**" if word else text)
            p_value = paired_p_value(stat)
            csv_rows.append([mode, other, metric, stat.mean, stat.half, stat.n, p_value, adjusted[other, metric], word])
        md_rows.append([f"{mode} − {other}", *cells])
    return (
        _markdown_table(["pair", *METRICS.values()], md_rows),
        _csv_text(
            ["mode", "other", "metric", "mean_diff", "ci95", "tasks", "p", "p_bh", "verdict"],
            csv_rows,
        ),
    )


def edit_type_means(records: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, dict[str, float]]]:
    """(row, edit type) → (tasks, mean of every metric over them; NaN where no task has it)."""
    out = {}
    for row in _row_order(records):
        for edit_type in sorted({r["edit_type"] for r in records}):
            items = [r for r in records if r["row"] == row and r["edit_type"] == edit_type]
            if items:
                out[row, edit_type] = (len(items), {m: summarize(r.get(m) for r in items).mean for m in METRICS})
    return out


def edit_type_tables(records: list[dict[str, Any]], metrics: tuple[str, ...]) -> str:
    """One markdown table per metric: its mean for each edit type (rows) and each row of the bench (columns)."""
    means = edit_type_means(records)
    rows, types = _row_order(records), sorted({r["edit_type"] for r in records})
    parts = []
    for metric in metrics:
        body = []
        for edit_type in types:
            cells = [means.get((row, edit_type), (0, {}))[1].get(metric, math.nan) for row in rows]
            count = len({r["task"] for r in records if r["edit_type"] == edit_type})
            body.append([edit_type, str(count), *("—" if math.isnan(v) else f"{v:.3g}" for v in cells)])
        parts.append(f"### {METRICS[metric]}\n\n" + _markdown_table(["edit type", "tasks", *rows], body))
    return "\n\n".join(parts)


def plot_summary(records: list[dict[str, Any]], path: Path) -> None:
    """One bar chart per metric (a grid of PLOT_COLUMNS columns, as many rows as the metrics need)."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    rows = _row_order(records)
    lines = math.ceil(len(METRICS) / PLOT_COLUMNS)
    fig = Figure(figsize=(4 * PLOT_COLUMNS, 3.5 * lines), constrained_layout=True)
    axes = list(fig.subplots(lines, PLOT_COLUMNS, squeeze=False).flat)
    colours = colormaps["tab10"](np.arange(len(rows)) % 10)
    for ax, (metric, title) in zip(axes[: len(METRICS)], METRICS.items(), strict=True):
        stats = [summarize(r.get(metric) for r in records if r["row"] == row) for row in rows]
        means = [s.mean if s.n else 0.0 for s in stats]
        errors = [0.0 if math.isnan(s.half) else s.half for s in stats]
        ax.bar(range(len(rows)), means, yerr=errors, color=colours, capsize=3)
        ax.set_xticks(range(len(rows)), rows, rotation=45, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
    for ax in axes[len(METRICS) :]:
        ax.set_axis_off()
    fig.suptitle(f"ToyWorld bench: {len({r['task'] for r in records})} tasks, mean ± 95 % CI")
    staging = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(staging, dpi=90)
    staging.replace(path)


def write_bench_report(out_dir: str | Path) -> list[Path]:
    """table.md, table.csv, by_edit_type.csv, paired.csv (with an `aved` row) and summary.png from the results."""
    out_dir = Path(out_dir)
    records = read_results(out_dir)
    if not records:
        raise AvedError(f"{out_dir}: no toyworld bench results yet ({RESULTS} is missing or empty)")
    markdown, table_csv, by_type_csv = summary_tables(records)
    paired_md, paired_csv = paired_tables(records)
    settings = json.loads((out_dir / SETTINGS).read_text())
    config = settings["config"]
    intro = (
        f"# ToyWorld bench\n\n{len({r['task'] for r in records})} tasks (seed {settings['task_seed']}), "
        f"{config['steps']} steps, edit seed {config['seed']}, models {config['model']['video']} and "
        f"{config['model']['audio']}. Mean ± half-width of the 95 % t-interval over tasks; a metric that is "
        "undefined for a task (no object found, no unchanged attribute, no matched onset) is left out of its "
        "mean. s/task: seconds per edit, including decoding; `video-only` and `audio-only` are the two halves of "
        "the task's `independent` edit (identical bit for bit to running them alone), so they have no time of "
        "their own.\n\n"
    )
    sections = [intro + markdown, "![summary](summary.png)"]
    if paired_md:
        sections.append(
            "## aved against each mode, paired by task\n\naved's value minus the other mode's on the same task, "
            "mean ± half-width of the 95 % t-interval over the tasks where both have the metric. Pairing removes "
            "the spread between tasks, which the table's intervals include. **Bold**: the paired t-test's p, "
            f"adjusted by Benjamini–Hochberg over every judged cell of this table, is below {FDR:g} (false "
            "discovery rate ≤ 5 % over the table), and the word says whether aved is the better of the two; "
            "the intervals are not adjusted, so one may exclude 0 and stay plain.\n\n" + paired_md
        )
    sections.append("## Per edit type (means)\n\n" + edit_type_tables(records, TYPE_METRICS))
    paths = {
        "table.md": "\n\n".join(sections) + "\n",
        "table.csv": table_csv,
        "by_edit_type.csv": by_type_csv,
    }
    if paired_csv:
        paths["paired.csv"] = paired_csv
    written = []
    for name, text in paths.items():
        folders.atomic_write(out_dir / name, text)
        written.append(out_dir / name)
    plot_summary(records, out_dir / "summary.png")
    return [*written, out_dir / "summary.png"]
