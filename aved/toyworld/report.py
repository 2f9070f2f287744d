"""The ToyWorld bench's report: table.md (every row, mean ± 95 % CI; `aved` against each mode, paired by task),
table.csv, by_edit_type.csv, paired.csv and summary.png, from a bench folder's results."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aved import folders
from aved.bench.results import read_run_document
from aved.bench.tables import (
    FDR,
    adjusted_p_values,
    csv_text,
    markdown_table,
    paired_differences,
    paired_p_value,
    summarize,
    verdict,
)
from aved.errors import AvedError
from aved.toyworld.bench import (
    BENCH_ROWS,
    SOURCE_CODEC_ROW,
    SOURCE_ROW,
    TRUTH_CODEC_ROW,
    TRUTH_ROW,
    read_results,
)
from aved.toyworld.metrics import BOUNDARY_S, LEVEL_BAR_DB, LEVEL_S, TOYWORLD_METRICS

TYPE_METRICS = ("frame_target_acc", "sound_target_acc", "frame_leak", "background_psnr", "sound_f1", "av_align")
ONE_DECIMAL = ("trajectory_px", "background_psnr", "onset_ms", "onset_bias_ms", "gt_psnr")
PLOT_COLUMNS = 5


def present_metrics(records: list[dict[str, Any]]) -> dict[str, str]:
    """The metrics some record has a value of (the boundary ones only on clips longer than the audio window)."""
    return {m: title for m, title in TOYWORLD_METRICS.items() if any(r.get(m) is not None for r in records)}


def _row_order(records: list[dict[str, Any]]) -> list[str]:
    present = {r["row"] for r in records}
    order = (SOURCE_ROW, SOURCE_CODEC_ROW, *BENCH_ROWS, TRUTH_CODEC_ROW, TRUTH_ROW)
    return [r for r in order if r in present]


def summary_tables(records: list[dict[str, Any]]) -> tuple[str, str, str]:
    """(markdown table, CSV of the same, CSV per edit type) of mean ± 95 % CI per row and metric."""
    metrics = present_metrics(records)
    header = ["row", "tasks", *metrics.values(), "s/task"]
    md_rows, csv_rows = [], []
    for row in _row_order(records):
        items = [r for r in records if r["row"] == row]
        stats = {m: summarize(r.get(m) for r in items) for m in metrics}
        seconds = summarize(r.get("seconds") for r in items)
        digits = {m: 1 if m in ONE_DECIMAL else 3 for m in metrics}
        timing = f"{seconds.mean:.1f}" if seconds.n else "—"
        md_rows.append([row, str(len(items)), *(stats[m].text(digits[m]) for m in metrics), timing])
        csv_rows.append([row, len(items), *(v for m in metrics for v in (stats[m].mean, stats[m].half)), seconds.mean])
    csv_header = ["row", "tasks", *(f"{m}_{p}" for m in metrics for p in ("mean", "ci95")), "seconds_mean"]
    by_type_header = ["row", "edit_type", "tasks", *metrics]
    by_type = [
        [row, edit_type, count, *(means[m] for m in metrics)]
        for (row, edit_type), (count, means) in edit_type_means(records).items()
    ]
    return (
        markdown_table(header, md_rows),
        csv_text(csv_header, csv_rows),
        csv_text(by_type_header, by_type),
    )


def paired_tables(records: list[dict[str, Any]], mode: str = "aved") -> tuple[str, str]:
    """(markdown, CSV) of `mode` minus every other editing mode, paired by task, marks controlled by BH."""
    metrics = present_metrics(records)
    others = [r for r in _row_order(records) if r in BENCH_ROWS and r != mode]
    if mode not in {r["row"] for r in records} or not others:
        return "", ""
    stats = {(o, m): stat for o in others for m, stat in paired_differences(records, metrics, mode, o).items()}
    adjusted = adjusted_p_values(stats, metrics)
    md_rows, csv_rows = [], []
    for other in others:
        cells = []
        for metric in metrics:
            stat = stats[other, metric]
            word = verdict(stat, metrics[metric], adjusted[other, metric])
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
        markdown_table(["pair", *metrics.values()], md_rows),
        csv_text(
            ["mode", "other", "metric", "mean_diff", "ci95", "tasks", "p", "p_bh", "verdict"],
            csv_rows,
        ),
    )


def edit_type_means(records: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, dict[str, float]]]:
    """(row, edit type) → (tasks, mean of every metric over them; NaN where no task has it)."""
    metrics = present_metrics(records)
    out = {}
    for row in _row_order(records):
        for edit_type in sorted({r["edit_type"] for r in records}):
            items = [r for r in records if r["row"] == row and r["edit_type"] == edit_type]
            if items:
                out[row, edit_type] = (
                    len(items),
                    {m: summarize(r.get(m) for r in items).mean for m in metrics},
                )
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
        parts.append(f"### {TOYWORLD_METRICS[metric]}\n\n" + markdown_table(["edit type", "tasks", *rows], body))
    return "\n\n".join(parts)


def plot_summary(records: list[dict[str, Any]], path: Path) -> None:
    """One bar chart per metric (a grid of PLOT_COLUMNS columns, as many rows as the metrics need)."""
    metrics = present_metrics(records)
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    rows = _row_order(records)
    lines = math.ceil(len(metrics) / PLOT_COLUMNS)
    fig = Figure(figsize=(4 * PLOT_COLUMNS, 3.5 * lines), constrained_layout=True)
    axes = list(fig.subplots(lines, PLOT_COLUMNS, squeeze=False).flat)
    colours = colormaps["tab10"](np.arange(len(rows)) % 10)
    for ax, (metric, title) in zip(axes[: len(metrics)], metrics.items(), strict=True):
        stats = [summarize(r.get(metric) for r in records if r["row"] == row) for row in rows]
        means = [s.mean if s.n else 0.0 for s in stats]
        errors = [0.0 if math.isnan(s.half) else s.half for s in stats]
        ax.bar(range(len(rows)), means, yerr=errors, color=colours, capsize=3)
        ax.set_xticks(range(len(rows)), rows, rotation=45, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
    for ax in axes[len(metrics) :]:
        ax.set_axis_off()
    fig.suptitle(f"ToyWorld bench: {len({r['task'] for r in records})} tasks, mean ± 95 % CI")
    folders.save_figure(fig, path, dpi=90)


@dataclass
class BenchReport:
    """What `write_bench_report` wrote, and its main table as markdown (for a terminal)."""

    paths: list[Path]
    table: str


NEAR_FAR = (("sound_recall", "sound-event recall"), ("onset_ms", "onset err. ms"), ("kind_acc", "kind acc."))


def boundary_table(records: list[dict[str, Any]]) -> str:
    """Markdown: per row, near − far window boundaries paired by task (recall, onset error, kind accuracy), and the
    level step across boundaries against the truth's; empty when no clip is longer than the audio window."""
    if not any(r.get("sound_recall_near") is not None for r in records):
        return ""
    header = ["row", *(f"{title}: near − far" for _, title in NEAR_FAR)]
    header += ["level jump dB: at boundaries", "midway between them", "at − midway (paired)"]
    header += [f"tasks within {LEVEL_BAR_DB:g} dB at boundaries"]
    body = []
    for row in _row_order(records):
        items = [r for r in records if r["row"] == row]
        cells = []
        for key, _ in NEAR_FAR:
            near, far = f"{key}_near", f"{key}_far"
            diffs = [r[near] - r[far] for r in items if r.get(near) is not None and r.get(far) is not None]
            stat = summarize(diffs)
            cells.append("—" if stat.n == 0 else f"{stat.mean:+.3f} ± {stat.half:.3f} (n={stat.n})")
        at, mid = (summarize(r.get(k) for r in items) for k in ("boundary_jump_db", "control_jump_db"))
        pairs = [
            r["boundary_jump_db"] - r["control_jump_db"]
            for r in items
            if r.get("boundary_jump_db") is not None and r.get("control_jump_db") is not None
        ]
        jumps = [r["boundary_jump_db"] for r in items if r.get("boundary_jump_db") is not None]
        within = f"{sum(j <= LEVEL_BAR_DB for j in jumps)}/{len(jumps)}" if jumps else "—"
        body.append([row, *cells, at.text(2), mid.text(2), summarize(pairs).text(2), within])
    return markdown_table(header, body)


def write_bench_report(out_dir: str | Path) -> BenchReport:
    """table.md, table.csv, by_edit_type.csv, paired.csv (with an `aved` row) and summary.png from the results."""
    out_dir = Path(out_dir)
    records = read_results(out_dir)
    if not records:
        raise AvedError(f"{out_dir}: no toyworld bench results yet (no results*.jsonl with a finished row)")
    markdown, table_csv, by_type_csv = summary_tables(records)
    paired_md, paired_csv = paired_tables(records)
    config = read_run_document(out_dir)
    intro = (
        f"# ToyWorld bench\n\n{len({r['task'] for r in records})} tasks (seed {config['run']['task_seed']}), "
        f"{config['steps']} steps, edit seed {config['seed']}, models {config['model']['video']} and "
        f"{config['model']['audio']}. Mean ± half-width of the 95 % t-interval over tasks; a metric that is "
        "undefined for a task (no object found, no unchanged attribute, no matched onset) is left out of its "
        "mean. s/task: seconds per edit, including decoding; a row made of other rows' edits (`video-only` and "
        "`audio-only`, the halves of `independent`; `aved-no-motion`; `aved-no-composite`, `aved`'s frames "
        "before compositing), identical bit for bit to running it alone, has no time of its own.\n\n"
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
    if near_far := boundary_table(records):
        sections.append(
            "## Near the audio windows' boundaries and away from them\n\nImpacts within "
            f"{BOUNDARY_S:g} s of a boundary against the others, paired by task (a task without both has no pair); "
            f"the level jump is the edit's level step across the point (RMS {LEVEL_S * 1000:g} ms each side, dB) "
            f"less the mean of its steps {LEVEL_S * 1000:g} ms either side (its envelope's own trend), inside the "
            "sound of a hit the edit kept (no onset within the windows, truth and edit audible), averaged per task: "
            "a seam is a jump, a decay is not.\n\n" + near_far
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
    return BenchReport([*written, out_dir / "summary.png"], intro + markdown)
