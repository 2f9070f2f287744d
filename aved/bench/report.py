"""Tables and plots of one or more benchmark folders, with the paper's published figures beside ours."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aved import folders
from aved.bench.results import CONFIG_NAME, latest_records, manifest_names, read_run_document
from aved.bench.tables import Stat, csv_text, markdown_table, summarize
from aved.errors import AvedError

METRIC_ORDER = ("av_align", "clip_t", "clap", "dino", "lpaps", "obj_v", "obj_a")
METRIC_TITLES = {
    "av_align": "AV-Align",
    "clip_t": "CLIP-T",
    "clap": "CLAP",
    "dino": "DINO",
    "lpaps": "LPAPS ↓",
    "obj_v": "Obj-V",
    "obj_a": "Obj-A",
}
# docs/design.md §3, AvED-Bench: (our mode, metric) → published value. Baselines we do not run are listed separately.
PAPER = {
    ("aved", "av_align"): 0.42,
    ("audio-only", "av_align"): 0.36,
    ("video-only", "av_align"): 0.38,
    ("aved", "dino"): 0.956,
}
PAPER_REFERENCES = (
    ("AV-Align", "AVED", 0.42),
    ("AV-Align", "best baseline", 0.33),
    ("AV-Align", "audio-only delta denoising", 0.36),
    ("AV-Align", "video-only delta denoising", 0.38),
    ("DINO", "AVED", 0.956),
    ("DINO", "TokenFlow", 0.924),
    ("DINO", "random pairing", 0.902),
)
CI_NOTE = (
    "mean ± half-width of the 95 % t-interval, t(0.975, n−1)·sd/√n, over the clips that finished ok "
    "(a metric that came out NaN for a clip is left out of its mean)"
)


@dataclass
class ResultSet:
    """The latest record of every clip of one benchmark folder, and how to label it."""

    out_dir: Path
    label: str
    mode: str
    sweep: dict[str, str]
    metrics: list[str]
    records: list[dict[str, Any]]  # manifest order
    missing: int  # manifest clips with no record yet

    @property
    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("status") == "ok"]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("status") != "ok"]


# ----------------------------------------------------------------------------------------- loading


def expand_result_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Benchmark folders; a folder without config.json stands for its sweep subfolders."""
    out: list[Path] = []
    for path in map(Path, paths):
        if (path / CONFIG_NAME).is_file():
            out.append(path)
            continue
        children = [p for p in path.iterdir() if (p / CONFIG_NAME).is_file()] if path.is_dir() else []
        children.sort(key=_natural_key)
        if not children:
            raise AvedError(f"{path}: not a benchmark folder (no {CONFIG_NAME} in it or in its subfolders)")
        out.extend(children)
    if not out:
        raise AvedError("no benchmark folders given")
    return out


def _natural_key(path: Path) -> list[tuple[int, float, str]]:
    """Sweep folders in value order: `media.grid=2` before `media.grid=10`."""
    parts = []
    for item in path.name.split("__"):
        key, _, value = item.partition("=")
        number = _as_number(value)
        parts.append((0, number, key) if number is not None else (1, 0.0, item))
    return parts


def _label(mode: str, sweep: dict[str, str]) -> str:
    """'aved', or 'aved · relevance.tau_video=0.5' for a sweep setting (mode shown once)."""
    rest = ", ".join(f"{k}={v}" for k, v in sweep.items() if k != "mode")
    return f"{mode} · {rest}" if rest else mode


def load_result_set(out_dir: str | Path) -> ResultSet:
    """One benchmark folder: its config's mode and sweep setting, and the latest record per manifest clip."""
    out_dir = Path(out_dir)
    document = read_run_document(out_dir)
    run = document.get("run", {})
    mode, sweep = str(document.get("mode", "?")), {str(k): str(v) for k, v in run.get("sweep", {}).items()}
    latest = latest_records(out_dir)
    names = manifest_names(out_dir)
    records = [latest[name] for name in names if name in latest]
    metrics = list(run.get("metrics", []))
    for record in records:
        metrics += [m for m in record.get("metrics", {}) if m not in metrics]
    return ResultSet(out_dir, _label(mode, sweep), mode, sweep, metrics, records, len(names) - len(records))


def _unique_labels(sets: list[ResultSet]) -> None:
    """Two folders with the same setting get their folder name added, so rows stay distinguishable."""
    labels = [s.label for s in sets]
    for result in sets:
        if labels.count(result.label) > 1:
            result.label = f"{result.label} ({result.out_dir.name})"


def _ordered_metrics(sets: list[ResultSet]) -> list[str]:
    """Every metric any folder has, the paper's order first."""
    found = {m for s in sets for m in s.metrics}
    return [m for m in METRIC_ORDER if m in found] + sorted(found - set(METRIC_ORDER))


def _metric_values(records: list[dict[str, Any]], metric: str) -> list[float | None]:
    return [r.get("metrics", {}).get(metric) for r in records]


# ----------------------------------------------------------------------------------------- tables


def _paper_text(mode: str, metrics: list[str]) -> str:
    """'AV-Align 0.42, DINO 0.956' for the paper figures of `mode`."""
    items = [f"{METRIC_TITLES.get(m, m)} {PAPER[(mode, m)]:g}" for m in metrics if (mode, m) in PAPER]
    return ", ".join(items) or "—"


def _group_rows(label: str, records: list[dict[str, Any]], metrics: list[str]) -> dict[str, Any]:
    """Counts and metric stats of some records: one table row."""
    ok = [r for r in records if r.get("status") == "ok"]
    seconds = summarize(r.get("seconds") for r in ok)
    return {
        "label": label,
        "n_ok": len(ok),
        "n_failed": len(records) - len(ok),
        "stats": {m: summarize(_metric_values(ok, m)) for m in metrics},
        "seconds": seconds.mean if seconds.n else math.nan,
    }


def _stat_columns(metrics: list[str]) -> list[str]:
    return [f"{m}_{part}" for m in metrics for part in ("mean", "ci95", "n")]


def _stat_values(stats: dict[str, Stat], metrics: list[str]) -> list[Any]:
    return [v for m in metrics for v in (stats[m].mean, stats[m].half, stats[m].n)]


def main_tables(sets: list[ResultSet], metrics: list[str]) -> tuple[str, str]:
    """(markdown, csv) of one row per folder: counts, every metric, the paper's figures."""
    paper_metrics = [m for m in metrics if any((s.mode, m) in PAPER for s in sets)]
    md_rows, csv_rows = [], []
    for s in sets:
        row = _group_rows(s.label, s.records, metrics)
        md_rows.append(
            [s.label, row["n_ok"], row["n_failed"], s.missing]
            + [row["stats"][m].text() for m in metrics]
            + [_fmt_seconds(row["seconds"]), _paper_text(s.mode, metrics)]
        )
        sweep_text = ";".join(f"{k}={v}" for k, v in s.sweep.items())
        paper = [PAPER.get((s.mode, m), math.nan) for m in paper_metrics]
        csv_rows.append(
            [s.label, s.mode, sweep_text, str(s.out_dir), row["n_ok"], row["n_failed"], s.missing]
            + _stat_values(row["stats"], metrics)
            + [row["seconds"], *paper]
        )
    titles = [METRIC_TITLES.get(m, m) for m in metrics]
    markdown = markdown_table(["run", "n ok", "n failed", "not run", *titles, "s/clip", "paper"], md_rows)
    csv_header = ["label", "mode", "sweep", "folder", "n_ok", "n_failed", "n_not_run", *_stat_columns(metrics)]
    csv_header += ["seconds_mean", *(f"{m}_paper" for m in paper_metrics)]
    return markdown, csv_text(csv_header, csv_rows)


def category_tables(sets: list[ResultSet], metrics: list[str]) -> tuple[str, str]:
    """(markdown, csv) of one row per folder and target category."""
    md_rows, csv_rows = [], []
    for s in sets:
        for category in sorted({r.get("trg_category", "") for r in s.records}):
            records = [r for r in s.records if r.get("trg_category", "") == category]
            row = _group_rows(s.label, records, metrics)
            md_rows.append(
                [s.label, category, row["n_ok"], row["n_failed"]] + [row["stats"][m].text() for m in metrics]
            )
            csv_rows.append([s.label, category, row["n_ok"], row["n_failed"], *_stat_values(row["stats"], metrics)])
    titles = [METRIC_TITLES.get(m, m) for m in metrics]
    markdown = markdown_table(["run", "target category", "n ok", "n failed", *titles], md_rows)
    header = ["label", "trg_category", "n_ok", "n_failed", *_stat_columns(metrics)]
    return markdown, csv_text(header, csv_rows)


def _fmt_seconds(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.1f}"


def _failures(sets: list[ResultSet], limit: int = 20) -> str:
    """A markdown list of the failed clips and their errors (the first `limit` per folder)."""
    lines = []
    for s in sets:
        failed = s.failed
        for record in failed[:limit]:
            lines.append(f"- {s.label} / `{record['name']}` ({record.get('stage') or '?'}): {record.get('error')}")
        if len(failed) > limit:
            lines.append(f"- {s.label}: and {len(failed) - limit} more")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- plots


def _as_number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def numeric_sweep_keys(sets: list[ResultSet]) -> list[str]:
    """Sweep keys that every folder sweeping them gave a number, with at least two distinct values."""
    keys = []
    for key in dict.fromkeys(k for s in sets for k in s.sweep):
        values = [_as_number(s.sweep[key]) for s in sets if key in s.sweep]
        if all(v is not None for v in values) and len(set(values)) > 1:
            keys.append(key)
    return keys


def _new_figure(width: float, height: float):
    """A pyplot-free Agg figure: no global backend or figure registry is touched."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def plot_sweep(sets: list[ResultSet], key: str, metrics: list[str], path: Path) -> None:
    """One panel per metric: mean ± 95 % interval against the swept value, one line per other setting."""
    panels = [m for m in metrics if any(summarize(_metric_values(s.ok, m)).n for s in sets if key in s.sweep)]
    if not panels:
        return
    fig = _new_figure(4.2 * len(panels), 3.4)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    groups: dict[str, list[ResultSet]] = {}
    for s in sets:
        if key in s.sweep:
            rest = {k: v for k, v in s.sweep.items() if k != key}
            groups.setdefault(_label(s.mode, rest), []).append(s)
    for ax, metric in zip(axes, panels, strict=True):
        for name, members in groups.items():
            members = sorted(members, key=lambda s: float(s.sweep[key]))
            x = [float(s.sweep[key]) for s in members]
            stats = [summarize(_metric_values(s.ok, metric)) for s in members]
            y = [st.mean for st in stats]
            err = [0.0 if math.isnan(st.half) else st.half for st in stats]
            line = ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=name)[0]
            paper = PAPER.get((members[0].mode, metric))
            if paper is not None:
                ax.axhline(paper, ls="--", lw=1, color=line.get_color(), label=f"paper ({members[0].mode})")
        ax.set_xlabel(key)
        ax.set_title(METRIC_TITLES.get(metric, metric))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    folders.save_figure(fig, path)


def plot_clip_t_vs_dino(sets: list[ResultSet], path: Path) -> bool:
    """Per-clip CLIP-T (target followed) against DINO (structure kept), one colour per row; False if no data."""
    fig = _new_figure(5.5, 4.5)
    ax = fig.subplots()
    drawn = False
    for s in sets:
        points = [
            (r["metrics"]["clip_t"], r["metrics"]["dino"])
            for r in s.ok
            if r.get("metrics", {}).get("clip_t") is not None and r.get("metrics", {}).get("dino") is not None
        ]
        if points:
            x, y = zip(*points, strict=True)
            ax.scatter(x, y, s=14, alpha=0.6, label=s.label)
            ax.scatter(
                [np.mean(x)],
                [np.mean(y)],
                marker="X",
                s=90,
                edgecolors="black",
                color=ax.collections[-1].get_facecolor()[:1],
            )
            drawn = True
    if not drawn:
        return False
    ax.set_xlabel("CLIP-T (target prompt followed)")
    ax.set_ylabel("DINO (source structure kept)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    folders.save_figure(fig, path)
    return True


# ----------------------------------------------------------------------------------------- the report


def report_paths(result_dirs: list[Path], out: str | Path | None) -> tuple[Path, str]:
    """(folder, file stem): `out` ending in .md names the markdown file; else it is the folder (default
    `<the given folder>/report`, or `<their common parent>/report`)."""
    if out is None:
        base = result_dirs[0] if len(result_dirs) == 1 else Path(os.path.commonpath([p.resolve() for p in result_dirs]))
        return base / "report", "report"
    out = Path(out)
    if out.suffix.lower() == ".md":
        return out.parent, out.stem
    return out, "report"


def write_report(result_dirs: Iterable[str | Path], out: str | Path | None = None) -> list[Path]:
    """Markdown + CSV tables (overall and per target category) and PNG plots of benchmark folders; returns the
    files written. A folder without config.json stands for its sweep subfolders."""
    given = [Path(p) for p in result_dirs]
    sets = [load_result_set(d) for d in expand_result_dirs(given)]
    _unique_labels(sets)
    metrics = _ordered_metrics(sets)
    folder, stem = report_paths(given, out)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(name: str, text: str) -> None:
        path = folder / name
        folders.atomic_write(path, text)
        written.append(path)

    main_md, main_csv = main_tables(sets, metrics)
    category_md, category_csv = category_tables(sets, metrics)
    save(f"{stem}.csv", main_csv)
    save(f"{stem}_by_category.csv", category_csv)
    plots = []
    for key in numeric_sweep_keys(sets):
        path = folder / f"{stem}_sweep_{key}.png"
        plot_sweep(sets, key, metrics, path)
        if path.exists():
            plots.append(path)
    scatter = folder / f"{stem}_clip_t_vs_dino.png"
    if plot_clip_t_vs_dino(sets, scatter):
        plots.append(scatter)
    written += plots
    save(f"{stem}.md", _markdown(sets, main_md, category_md, plots))
    return written


def _markdown(sets: list[ResultSet], main_md: str, category_md: str, plots: list[Path]) -> str:
    """The whole markdown document."""
    references = markdown_table(["metric", "method", "paper"], [[m, k, f"{v:g}"] for m, k, v in PAPER_REFERENCES])
    parts = [
        "# AvED-Bench report",
        f"Cells: {CI_NOTE}. LPAPS: lower is better. *paper*: the published AvED-Bench figure for the row's mode.",
        "## Results",
        main_md,
        "## By target category",
        category_md,
        "## Published figures (AvED-Bench)",
        references,
    ]
    if plots:
        parts += ["## Plots", "\n".join(f"![{p.stem}]({p.name})" for p in plots)]
    failures = _failures(sets)
    if failures:
        parts += ["## Failed clips", failures]
    parts.append("Folders: " + ", ".join(f"`{s.out_dir}`" for s in sets))
    return "\n\n".join(parts) + "\n"
