"""The same ToyWorld tasks edited long and short: one row of two bench folders paired by task (long − short).

The tasks of a task seed rendered at 8 s begin with their 2 s versions frame for frame and sample for sample, so
`aved toyworld bench --duration 8` against `--duration 2` on the same seed asks whether editing the whole long
clip (more grids, overlapping sound windows) costs anything per task.

    python benchmarks/toyworld_long_vs_short.py LONG_FOLDER SHORT_FOLDER [--row aved]
"""

from __future__ import annotations

import argparse

from aved.bench.tables import paired_differences
from aved.toyworld.bench import read_results
from aved.toyworld.metrics import BOUNDARY_METRICS, TOYWORLD_METRICS

METRICS = ("frame_target_acc", "trajectory_px", "background_psnr", "bounce_f1", "sound_target_acc", "sound_f1",
           "onset_ms", "av_align")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("long")
    parser.add_argument("short")
    parser.add_argument("--row", default="aved")
    args = parser.parse_args()
    records = [
        {**r, "row": f"{label} {r['row']}"}
        for label, folder in (("long", args.long), ("short", args.short))
        for r in read_results(folder)
        if r["row"] == args.row
    ]
    metrics = {m: TOYWORLD_METRICS[m] for m in METRICS if m not in BOUNDARY_METRICS}
    stats = paired_differences(records, metrics, f"long {args.row}", f"short {args.row}")
    print(f"{args.row}: long − short, paired by task (mean ± 95 % half-width, tasks)")
    for metric, stat in stats.items():
        print(f"  {TOYWORLD_METRICS[metric]:<40s} {stat.mean:+8.3f} ± {stat.half:.3f}  (n={stat.n})")


if __name__ == "__main__":
    main()
