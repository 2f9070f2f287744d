"""Statistics and table text shared by every bench report: mean ± t-interval, paired differences with
Benjamini–Hochberg marks, markdown and CSV."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

FDR = 0.05  # false discovery rate of a paired table's better/worse marks (Benjamini–Hochberg)
RECORD_DIGITS = 5  # metrics are recorded to 5 decimals; a paired mean smaller than that is no difference


@dataclass(frozen=True)
class Stat:
    """Mean, 95 % half-width and count of one metric over some clips."""

    mean: float
    half: float
    n: int

    def text(self, digits: int = 3) -> str:
        if self.n == 0:
            return "—"
        if math.isnan(self.half):
            return f"{self.mean:.{digits}f} (n={self.n})"
        return f"{self.mean:.{digits}f} ± {self.half:.{digits}f}"


def summarize(values: Iterable[float | None]) -> Stat:
    """Mean ± t-interval half-width of the finite values (half-width NaN below two values)."""
    from scipy.stats import t

    data = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = len(data)
    if n == 0:
        return Stat(math.nan, math.nan, 0)
    if n == 1:
        return Stat(float(data[0]), math.nan, 1)
    half = float(t.ppf(0.975, n - 1) * data.std(ddof=1) / math.sqrt(n))
    return Stat(float(data.mean()), half, n)


def paired_differences(
    records: list[dict[str, Any]], metrics: Iterable[str], mode: str, other: str, unit: str = "task", by: str = "row"
) -> dict[str, Stat]:
    """Per metric, mean ± 95 % t-interval of (mode − other) over the units (tasks, clips) where both have a value."""
    by_key = {(r[unit], r[by]): r for r in records}
    units = sorted({r[unit] for r in records})
    stats = {}
    for metric in metrics:
        diffs = []
        for name in units:
            a, b = by_key.get((name, mode)), by_key.get((name, other))
            if a is not None and b is not None and a.get(metric) is not None and b.get(metric) is not None:
                diffs.append(a[metric] - b[metric])
        stats[metric] = summarize(diffs)
    return stats


def paired_p_value(stat: Stat) -> float:
    """Two-sided p of the paired t-test behind a paired Stat (t = mean / (half / t₀.₉₇₅)); NaN below 2 units."""
    from scipy.stats import t

    if stat.n < 2 or math.isnan(stat.half):
        return math.nan
    if stat.half == 0:
        return 1.0 if stat.mean == 0 else 0.0
    score = stat.mean / (stat.half / t.ppf(0.975, stat.n - 1))
    return float(2 * t.sf(abs(score), stat.n - 1))


def judged(title: str) -> bool:
    """A column title that says which way is better (↑ or ↓ at its end)."""
    return title.endswith(("↑", "↓"))


def adjusted_p_values(stats: dict[tuple[str, str], Stat], titles: dict[str, str]) -> dict[tuple[str, str], float]:
    """Benjamini–Hochberg adjusted p of every judged (pair, metric) with a defined test; NaN for the rest."""
    from scipy.stats import false_discovery_control

    keys = [k for k, stat in stats.items() if judged(titles[k[1]]) and not math.isnan(paired_p_value(stat))]
    out = dict.fromkeys(stats, math.nan)
    if keys:
        adjusted = false_discovery_control([paired_p_value(stats[k]) for k in keys], method="bh")
        out.update(zip(keys, map(float, adjusted), strict=True))
    return out


def verdict(stat: Stat, title: str, adjusted_p: float) -> str:
    """'better' or 'worse' where the BH-adjusted p is below FDR (the title's arrow says which sign is better)."""
    if not judged(title) or math.isnan(adjusted_p) or adjusted_p >= FDR or abs(stat.mean) < 10**-RECORD_DIGITS:
        return ""
    return "better" if (stat.mean > 0) == title.endswith("↑") else "worse"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub markdown table; '|' in cells is escaped."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(r) for r in rows)])


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    """CSV with NaN cells left empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if isinstance(v, float) and math.isnan(v) else v for v in row] for row in rows])
    return buffer.getvalue()
