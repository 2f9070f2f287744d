"""A study's votes counted: each method's wins, losses and ties against each other method per question (overall and
per category) with Wilson intervals, the raters' consistency on the hidden repeats, and every vote as CSV."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aved.bench.tables import csv_text, markdown_table
from aved.folders import atomic_write
from aved.study.db import Study, load_study, study_connection

Z_95 = 1.959963984540054  # the standard normal's 97.5 % quantile: a two-sided 95 % interval
REPORT_NAME, VOTES_NAME = "report.md", "votes.csv"
VOTE_COLUMNS = [
    "vote_id",
    "rater",
    "position",
    "pair",
    "clip",
    "category",
    "question",
    "choice",
    "left_method",
    "right_method",
    "chosen_method",
    "is_repeat",
    "created_at",
]
SAME = "same"
ALL_CATEGORIES = ""


@dataclass(frozen=True)
class Vote:
    """One answer to one question on one page, with what it chose."""

    id: int
    rater: str
    position: int
    pair: int
    clip: str
    category: str
    question: str
    choice: str
    left_method: str
    right_method: str
    method_a: str
    method_b: str
    is_repeat: bool
    created_at: float

    @property
    def chosen(self) -> str | None:
        """The method the vote preferred, None for a tie."""
        return {"left": self.left_method, "right": self.right_method}.get(self.choice)


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (Wilson 1927, "Probable inference, the law of succession,
    and statistical inference", JASA 22:209-212): the p with |p̂ - p| <= z·sqrt(p(1-p)/n), that is
    (p̂ + z²/2n ± z·sqrt(p̂(1-p̂)/n + z²/4n²)) / (1 + z²/n). (nan, nan) for no trials."""
    if trials == 0:
        return math.nan, math.nan
    p = successes / trials
    z2 = z * z
    centre = p + z2 / (2 * trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    scale = 1 + z2 / trials
    return max(0.0, (centre - half) / scale), min(1.0, (centre + half) / scale)


def read_votes(db_path: str | Path) -> list[Vote]:
    """Every vote of the study, in the order cast."""
    with study_connection(db_path) as connection:
        rows = connection.execute(
            "SELECT v.id, v.rater, v.position, v.pair, p.clip, p.category, v.question, v.choice, v.left_method, "
            "v.right_method, p.method_a, p.method_b, v.is_repeat, v.created_at "
            "FROM votes v JOIN pairs p ON p.id = v.pair ORDER BY v.id"
        ).fetchall()
    return [Vote(*row[:12], bool(row[12]), row[13]) for row in rows]


# ----------------------------------------------------------------------------------------------- win rates


@dataclass
class Tally:
    """Method A against method B on one question (and category): A's wins, B's wins, ties."""

    a_wins: int = 0
    b_wins: int = 0
    ties: int = 0

    def add(self, vote: Vote) -> None:
        """Count one first-time vote."""
        if vote.chosen is None:
            self.ties += 1
        elif vote.chosen == vote.method_a:
            self.a_wins += 1
        else:
            self.b_wins += 1


def tally(votes: list[Vote], by_category: bool) -> dict[tuple[str, str, str, str], Tally]:
    """(category or '', method A, method B, question) → Tally, over first-time votes only (repeats count once)."""
    tallies: dict[tuple[str, str, str, str], Tally] = defaultdict(Tally)
    for vote in votes:
        if not vote.is_repeat:
            category = vote.category if by_category else ALL_CATEGORIES
            tallies[(category, vote.method_a, vote.method_b, vote.question)].add(vote)
    return dict(tallies)


def _rate_cells(wins: int, losses: int) -> list[str]:
    """'win rate', '[low, high]' over decided votes; dashes when none was decided."""
    if wins + losses == 0:
        return ["–", "–"]
    low, high = wilson_interval(wins, wins + losses)
    return [f"{wins / (wins + losses):.3f}", f"[{low:.3f}, {high:.3f}]"]


def win_rows(
    tallies: dict[tuple[str, str, str, str], Tally], questions: list[str], with_category: bool
) -> list[list[str]]:
    """Two rows per tally, one from each method's side: method, against, wins, losses, ties, win rate, 95 % CI;
    by category, then question in the study's order, then method pair."""

    def order(key: tuple[str, str, str, str]) -> tuple:
        category, a, b, question = key
        return category, questions.index(question), a, b

    rows = []
    for (category, a, b, question), t in sorted(tallies.items(), key=lambda kv: order(kv[0])):
        for method, other, wins, losses in ((a, b, t.a_wins, t.b_wins), (b, a, t.b_wins, t.a_wins)):
            cells = [question, method, other, str(wins), str(losses), str(t.ties), *_rate_cells(wins, losses)]
            rows.append([category, *cells] if with_category else cells)
    return rows


WIN_HEADER = ["question", "method", "against", "wins", "losses", "ties", "win rate", "95 % CI (Wilson)"]


# ----------------------------------------------------------------------------------------------- consistency


def consistency(votes: list[Vote]) -> dict[str, tuple[int, int]]:
    """rater → (repeats answered as the first time, repeats with a first answer), comparing the methods chosen
    (a repeat shows the sides swapped, so 'left' again is a change of mind)."""
    first = {(v.rater, v.pair, v.question): v.chosen for v in votes if not v.is_repeat}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for vote in votes:
        key = (vote.rater, vote.pair, vote.question)
        if vote.is_repeat and key in first:
            counts[vote.rater][0] += vote.chosen == first[key]
            counts[vote.rater][1] += 1
    return {rater: (same, total) for rater, (same, total) in counts.items()}


def _fraction(same: int, total: int) -> str:
    return f"{same / total:.3f} ({same}/{total})" if total else "–"


def consistency_rows(votes: list[Vote]) -> list[list[str]]:
    """One row per rater with votes, then 'all raters'."""
    counts = consistency(votes)
    pages = Counter(rater for rater, _ in {(v.rater, v.position) for v in votes})
    rows = [[rater, str(pages[rater]), _fraction(*counts.get(rater, (0, 0)))] for rater in sorted(pages)]
    overall = (sum(s for s, _ in counts.values()), sum(t for _, t in counts.values()))
    return [*rows, ["all raters", str(sum(pages.values())), _fraction(*overall)]]


# ----------------------------------------------------------------------------------------------- the report


def _counts(study: Study, votes: list[Vote]) -> list[str]:
    """The report's head: how many votes, pages and raters."""
    repeats = sum(v.is_repeat for v in votes)
    pages = len({(v.rater, v.position) for v in votes})
    raters = len({v.rater for v in votes})
    return [
        f"- pairs in the study: {len(study.pairs)} (questions: {', '.join(study.questions)})",
        f"- votes: {len(votes)} ({len(votes) - repeats} first-time, {repeats} on hidden repeats)",
        f"- pages answered: {pages}",
        f"- raters with votes: {raters}",
    ]


def _votes_csv(votes: list[Vote]) -> str:
    rows = [
        [
            v.id,
            v.rater,
            v.position,
            v.pair,
            v.clip,
            v.category,
            v.question,
            v.choice,
            v.left_method,
            v.right_method,
            v.chosen or SAME,
            int(v.is_repeat),
            datetime.fromtimestamp(v.created_at, UTC).isoformat(),
        ]
        for v in votes
    ]
    return csv_text(VOTE_COLUMNS, rows)


def study_report(db_path: str | Path) -> tuple[str, str]:
    """(markdown report, CSV of every vote) of the study at `db_path`."""
    study = load_study(db_path)  # a file that is not a study fails here with its one-line error
    votes = read_votes(db_path)
    overall = win_rows(tally(votes, by_category=False), study.questions, with_category=False)
    by_category = win_rows(tally(votes, by_category=True), study.questions, with_category=True)
    none = "No votes yet."
    lines = [
        f"# Study report: {Path(db_path).name}",
        "",
        *_counts(study, votes),
        "",
        "## Methods",
        "",
        markdown_table(["method", "run"], [[run["label"], run["spec"]] for run in study.runs]),
        "",
        "Win rates are over decided votes (ties left out) of first-time pages; hidden repeats count only for "
        "consistency. Intervals: Wilson score, 95 %.",
        "",
        "## Win rates",
        "",
        markdown_table(WIN_HEADER, overall) if overall else none,
        "",
        "## Win rates per category",
        "",
        markdown_table(["category", *WIN_HEADER], by_category) if by_category else none,
        "",
        "## Rater consistency",
        "",
        "The share of hidden repeats (shown again with the sides swapped) answered for the same method as the first "
        "time, per question answered.",
        "",
        markdown_table(["rater", "pages answered", "same answer on repeats"], consistency_rows(votes)),
        "",
    ]
    return "\n".join(lines), _votes_csv(votes)


def write_study_report(db_path: str | Path, out_dir: str | Path) -> list[Path]:
    """report.md and votes.csv of the study at `db_path` in `out_dir`, each written atomically."""
    markdown, votes_csv = study_report(db_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / REPORT_NAME, out_dir / VOTES_NAME]
    for path, text in zip(paths, (markdown, votes_csv), strict=True):
        atomic_write(path, text)
    return paths
