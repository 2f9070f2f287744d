"""The AvED-Bench manifest: a CSV of `name, src, trg, src_category, trg_category`, read unchanged
(docs/design.md §4)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aved.errors import AvedError

if TYPE_CHECKING:  # aved.config imports torch; the report reads manifests without it
    from aved.config import EditConfig

REQUIRED_COLUMNS = ("name", "src", "trg", "src_category", "trg_category")
# Optional per-modality prompts: manifest column → PromptConfig field.
MODALITY_COLUMNS = {
    "video_src": "video_source",
    "video_trg": "video_target",
    "audio_src": "audio_source",
    "audio_trg": "audio_target",
}


@dataclass(frozen=True)
class BenchRow:
    """One clip of the benchmark: its prompts and categories, and where it sits in the manifest."""

    index: int
    name: str
    src: str
    trg: str
    src_category: str
    trg_category: str
    video_src: str | None = None
    video_trg: str | None = None
    audio_src: str | None = None
    audio_trg: str | None = None

    def clip_path(self, videos: str | Path) -> Path:
        """`<videos>/<name>.mp4`."""
        return Path(videos) / f"{self.name}.mp4"

    def prompts(self) -> dict[str, str]:
        """The prompts this row sets, as PromptConfig fields (per-modality ones only where given)."""
        out = {"source": self.src, "target": self.trg}
        for column, field_name in MODALITY_COLUMNS.items():
            value = getattr(self, column)
            if value:
                out[field_name] = value
        return out

    def apply_to(self, config: EditConfig) -> EditConfig:
        """Set this row's prompts on `config` (in place); the per-modality ones fall back to the shared ones."""
        prompts = self.prompts()
        config.prompts.source, config.prompts.target = prompts["source"], prompts["target"]
        for field_name in MODALITY_COLUMNS.values():
            setattr(config.prompts, field_name, prompts.get(field_name))
        return config


def _check_name(path: Path, line: int, name: str) -> None:
    """A name becomes a file and a folder name, so it must not be empty or reach outside `videos`/`clips`."""
    if not name:
        raise AvedError(f"{path}: line {line} has an empty name")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise AvedError(f"{path}: line {line}: name {name!r} must not contain a path separator")


def read_manifest(path: str | Path) -> list[BenchRow]:
    """Rows of an AvED-Bench CSV in file order; a bad manifest raises AvedError naming the file."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return _parse(path, csv.reader(handle))
    except FileNotFoundError:
        raise AvedError(f"{path}: no such manifest file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise AvedError(f"{path}: not a readable CSV manifest ({err})") from None


def _parse(path: Path, reader) -> list[BenchRow]:
    """Header check, then one BenchRow per non-blank line."""
    header = next(reader, None)
    if header is None:
        raise AvedError(f"{path}: the manifest is empty (expected columns {', '.join(REQUIRED_COLUMNS)})")
    header = [column.strip() for column in header]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise AvedError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header)})")
    rows: list[BenchRow] = []
    seen: dict[str, int] = {}
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        # More fields than the header usually means an unquoted comma inside a prompt.
        if len(values) != len(header):
            raise AvedError(f"{path}: line {line} has {len(values)} fields, the header has {len(header)}")
        record = {column: value.strip() for column, value in zip(header, values, strict=True)}
        name = record["name"]
        _check_name(path, line, name)
        if name in seen:
            raise AvedError(f"{path}: duplicate name {name!r} on lines {seen[name]} and {line}")
        seen[name] = line
        extras = {column: record.get(column) or None for column in MODALITY_COLUMNS}
        rows.append(BenchRow(len(rows), *(record[c] for c in REQUIRED_COLUMNS), **extras))
    if not rows:
        raise AvedError(f"{path}: the manifest has a header but no rows")
    return rows


def categories(rows: list[BenchRow]) -> list[str]:
    """The benchmark's category names (source and target), sorted: the label set of Obj-V / Obj-A."""
    return sorted(({row.src_category for row in rows} | {row.trg_category for row in rows}) - {""})
