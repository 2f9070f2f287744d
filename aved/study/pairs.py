"""The study's pairs (two runs' edits of one clip) and each rater's order of them: every pair once, shuffled per
rater, sides drawn per rater and pair, and every `repeat_every`-th item a hidden repeat with the sides swapped."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path

from aved.study.runs import StudyRun


@dataclass(frozen=True)
class PairSpec:
    """Two methods' edits of one clip, as the study stores them (method A is the earlier run given)."""

    clip: str
    category: str
    source_prompt: str
    target_prompt: str
    method_a: str
    method_b: str
    media_a: Path
    media_b: Path
    media_source: Path


@dataclass(frozen=True)
class Item:
    """One page of a rater's sequence: which pair, whether method B is on the left, whether it is a repeat."""

    pair: int
    swapped: bool
    repeat: bool


def common_clips(runs: list[StudyRun]) -> list[str]:
    """The clips every run finished, sorted."""
    keys = set(runs[0].clips)
    for run in runs[1:]:
        keys &= set(run.clips)
    return sorted(keys)


def build_pairs(runs: list[StudyRun]) -> tuple[list[PairSpec], list[str]]:
    """(pairs, skipped clips): each unordered pair of runs × each common clip; a clip that two runs edited towards
    different target prompts is no fair comparison and is skipped whole."""
    pairs, skipped = [], []
    for key in common_clips(runs):
        if len({run.clips[key].target_prompt for run in runs}) > 1:
            skipped.append(key)
            continue
        for first, second in itertools.combinations(runs, 2):
            a, b = first.clips[key], second.clips[key]
            pairs.append(
                PairSpec(
                    key,
                    a.category,
                    a.source_prompt,
                    a.target_prompt,
                    first.label,
                    second.label,
                    a.edited,
                    b.edited,
                    a.source,
                )
            )
    return pairs, skipped


def rater_items(pair_ids: list[int], seed: int, rater: str, repeat_every: int) -> list[Item]:
    """The rater's whole sequence, the same every time for the same study seed and rater id.

    Item k (1-based) with k % repeat_every == 0 repeats, sides swapped, a pair shown earlier and not yet repeated;
    the sequence ends with the last new pair, so every repeat follows its original. repeat_every 0: no repeats.
    """
    # random.Random seeds a str through SHA-512: the same order in every process and Python version.
    rng = random.Random(f"{seed}/{rater}")
    order = sorted(pair_ids)
    rng.shuffle(order)
    fresh = [Item(pair, rng.random() < 0.5, False) for pair in order]
    items: list[Item] = []
    repeatable: list[Item] = []
    while fresh:
        if repeat_every and (len(items) + 1) % repeat_every == 0 and repeatable:
            # Not the page just seen, when there is another: a repeat straight after its original is no test.
            original = repeatable.pop(rng.randrange(max(1, len(repeatable) - 1)))
            items.append(Item(original.pair, not original.swapped, True))
            continue
        item = fresh.pop(0)
        items.append(item)
        repeatable.append(item)
    return items
