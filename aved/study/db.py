"""The study file: one SQLite database (WAL) of the pairs, the raters, the pages shown and the votes.

The pairs and settings are written once, by `create_study`, into a file built beside the target and renamed onto it;
after that only raters, views and votes are added, each in a transaction of its own, committed before the server
answers: a killed server loses no vote it acknowledged, and raters at once wait on SQLite's lock, never lose one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aved import folders
from aved.errors import AvedError
from aved.study.pairs import Item, PairSpec, build_pairs, common_clips, rater_items
from aved.study.runs import StudyRun, label_runs, read_study_run

SCHEMA_VERSION = 1
QUESTIONS = {
    "prompt": "Which edit matches the target prompt better?",
    "preserve": "Which edit keeps more of the source clip where the prompt asks for no change?",
    "sync": "In which edit do the picture and the sound go together better?",
}
DEFAULT_QUESTIONS = ("prompt", "preserve", "sync")
DEFAULT_REPEAT_EVERY = 5
CHOICES = ("left", "right", "same")
MIN_RUNS = 2
BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another's transaction before giving up
SEED_BITS = 31
PAIR_COLUMNS = [f.name for f in dataclasses.fields(PairSpec)]
SECRET_BYTES = 16

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE pairs (
    id INTEGER PRIMARY KEY,
    clip TEXT NOT NULL,
    category TEXT NOT NULL,
    source_prompt TEXT NOT NULL,
    target_prompt TEXT NOT NULL,
    method_a TEXT NOT NULL,
    method_b TEXT NOT NULL,
    media_a TEXT NOT NULL,
    media_b TEXT NOT NULL,
    media_source TEXT NOT NULL
);
CREATE TABLE raters (id TEXT PRIMARY KEY, first_seen REAL NOT NULL);
CREATE TABLE views (
    token TEXT PRIMARY KEY,
    rater TEXT NOT NULL REFERENCES raters(id),
    position INTEGER NOT NULL,
    pair INTEGER NOT NULL REFERENCES pairs(id),
    swapped INTEGER NOT NULL CHECK (swapped IN (0, 1)),
    UNIQUE (rater, position)
);
CREATE TABLE votes (
    id INTEGER PRIMARY KEY,
    rater TEXT NOT NULL REFERENCES raters(id),
    position INTEGER NOT NULL,
    pair INTEGER NOT NULL REFERENCES pairs(id),
    question TEXT NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('left', 'right', 'same')),
    left_method TEXT NOT NULL,
    right_method TEXT NOT NULL,
    is_repeat INTEGER NOT NULL CHECK (is_repeat IN (0, 1)),
    created_at REAL NOT NULL,
    UNIQUE (rater, position, question)
);
CREATE INDEX votes_by_rater ON votes (rater, position);
"""


@dataclass
class StudySummary:
    """What `create_study` wrote."""

    path: Path
    methods: list[str]
    clips: int
    pairs: int
    questions: list[str]
    repeat_every: int
    skipped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What the CLI prints."""
        lines = [
            f"study {self.path}: {self.pairs} pairs ({self.clips} clips × {len(self.methods)} methods: "
            f"{', '.join(self.methods)})",
            f"questions: {', '.join(self.questions)}; a hidden repeat every {self.repeat_every} pairs"
            if self.repeat_every
            else f"questions: {', '.join(self.questions)}; no repeats",
        ]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} clips whose runs had different target prompts")
        return lines


@dataclass
class Study:
    """A study file's fixed part: its settings and pairs (votes are read per request)."""

    path: Path
    seed: int
    secret: str
    questions: list[str]
    repeat_every: int
    pairs: dict[int, PairSpec]
    runs: list[dict] = field(default_factory=list)  # each run's spec, folder, kind, method and label

    def items(self, rater: str) -> list[Item]:
        """The rater's whole sequence of pages."""
        return rater_items(list(self.pairs), self.seed, rater, self.repeat_every)


# ----------------------------------------------------------------------------------------------- creating


def create_study(
    db_path: str | Path,
    runs: Sequence[str],
    questions: Sequence[str] = DEFAULT_QUESTIONS,
    repeat_every: int = DEFAULT_REPEAT_EVERY,
    seed: int | None = None,
) -> StudySummary:
    """A new study file at `db_path` pairing every two of `runs` on each clip they all finished.

    `runs` are `aved bench run` folders or `FOLDER:ROW` rows of an `aved toyworld bench` folder; `repeat_every`
    k > 1 makes every k-th page a hidden repeat (0: none); `seed` (default: random) fixes every rater's order.
    """
    db_path = Path(db_path)
    if db_path.exists() or db_path.is_symlink():
        raise AvedError(f"{db_path}: already exists; a study's pairs never change under its votes, pass a new file")
    questions = _check_questions(questions)
    repeat_every = _check_repeat_every(repeat_every)
    if len(runs) < MIN_RUNS:
        raise AvedError(f"a study compares at least {MIN_RUNS} runs, got {len(runs)}")
    study_runs = [read_study_run(str(spec)) for spec in runs]
    label_runs(study_runs)
    pairs, skipped = build_pairs(study_runs)
    if not pairs:
        raise AvedError(f"{', '.join(map(str, runs))}: no clip finished in every run (with one target prompt)")
    seed = secrets.randbits(SEED_BITS) if seed is None else int(seed)
    with folders.atomic_file(db_path) as temp:
        _write_new(temp, study_runs, pairs, questions, repeat_every, seed)
        if db_path.exists():  # created by someone else while the pairs were built: theirs stays
            raise AvedError(f"{db_path}: appeared while the study was being built; pass a new file")
    clips = len(common_clips(study_runs)) - len(skipped)
    return StudySummary(db_path, [r.label for r in study_runs], clips, len(pairs), questions, repeat_every, skipped)


def _check_questions(questions: Sequence[str]) -> list[str]:
    questions = list(questions)
    unknown = [q for q in questions if q not in QUESTIONS]
    if unknown or not questions:
        given = repr(unknown[0]) if unknown else "none"
        raise AvedError(f"study questions: {given} given, use some of {', '.join(QUESTIONS)}")
    if len(set(questions)) != len(questions):
        raise AvedError(f"study questions: {', '.join(questions)} lists one twice")
    return questions


def _check_repeat_every(repeat_every: int) -> int:
    if isinstance(repeat_every, bool) or not isinstance(repeat_every, int) or repeat_every < 0 or repeat_every == 1:
        raise AvedError(f"repeat_every: {repeat_every!r} is not 0 (no repeats) or a whole number of pages > 1")
    return repeat_every


def _write_new(
    path: Path, runs: list[StudyRun], pairs: list[PairSpec], questions: list[str], repeat_every: int, seed: int
) -> None:
    """Fill the empty file `path`: schema, settings, pairs; then WAL, and closed (no -wal file left beside it)."""
    meta = {
        "schema_version": SCHEMA_VERSION,
        "seed": seed,
        "secret": secrets.token_hex(SECRET_BYTES),
        "questions": questions,
        "repeat_every": repeat_every,
        "created_at": time.time(),
        "runs": [
            {"spec": r.spec, "folder": str(r.folder), "kind": r.kind, "method": r.method, "label": r.label}
            for r in runs
        ],
    }
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        with _transaction(connection):
            for statement in _statements(_SCHEMA):
                connection.execute(statement)
            connection.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
            connection.executemany(
                f"INSERT INTO pairs ({', '.join(PAIR_COLUMNS)}) VALUES ({', '.join('?' * len(PAIR_COLUMNS))})",
                [_pair_row(p) for p in pairs],
            )
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


def _statements(script: str) -> list[str]:
    """The script's statements, to run inside one transaction (executescript would commit first)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def _pair_row(pair: PairSpec) -> tuple[str, ...]:
    """The pairs table's columns after the id, which are PairSpec's fields in order."""
    return tuple(str(value) for value in dataclasses.astuple(pair))


# ----------------------------------------------------------------------------------------------- reading


def connect(db_path: str | Path) -> sqlite3.Connection:
    """A connection of one request or thread: autocommit (transactions are explicit), waits for writers."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise AvedError(f"{db_path}: no such study file (make one with `aved study create`)")
    connection = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    connection.row_factory = sqlite3.Row
    try:
        # FULL: a vote acknowledged survives a power cut too, not only a killed server.
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
    except sqlite3.DatabaseError as err:
        connection.close()
        raise AvedError(f"{db_path}: not an aved study file ({err})") from None
    return connection


@contextlib.contextmanager
def study_connection(db_path: str | Path) -> Iterator[sqlite3.Connection]:
    """`connect`, closed when the block ends."""
    connection = connect(db_path)
    try:
        yield connection
    finally:
        connection.close()


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT: takes the write lock first, so a read inside cannot go stale before the write."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def load_study(db_path: str | Path) -> Study:
    """The study's settings and pairs; a one-line AvedError for a file that is not a study."""
    with study_connection(db_path) as connection:
        try:
            meta = {row["key"]: json.loads(row["value"]) for row in connection.execute("SELECT key, value FROM meta")}
            rows = connection.execute("SELECT * FROM pairs ORDER BY id").fetchall()
        except (sqlite3.DatabaseError, json.JSONDecodeError) as err:
            raise AvedError(f"{db_path}: not an aved study file ({err})") from None
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise AvedError(f"{db_path}: study file version {meta.get('schema_version')}, this aved reads {SCHEMA_VERSION}")
    pairs = {row["id"]: _pair_spec(row) for row in rows}
    settings = [meta[key] for key in ("seed", "secret", "questions", "repeat_every")]
    return Study(Path(db_path), *settings, pairs, meta.get("runs", []))


def _pair_spec(row: sqlite3.Row) -> PairSpec:
    values = {f.name: row[f.name] for f in dataclasses.fields(PairSpec)}
    return PairSpec(**{name: Path(v) if name.startswith("media_") else v for name, v in values.items()})


# ----------------------------------------------------------------------------------------------- raters and votes


def add_rater(connection: sqlite3.Connection, rater: str) -> None:
    """Note the rater's first visit (a rater who comes back keeps that first time)."""
    with _transaction(connection):
        connection.execute("INSERT OR IGNORE INTO raters VALUES (?, ?)", (rater, time.time()))


def answered_positions(connection: sqlite3.Connection, rater: str) -> set[int]:
    """The pages of the rater's sequence that have votes."""
    rows = connection.execute("SELECT DISTINCT position FROM votes WHERE rater = ?", (rater,))
    return {row[0] for row in rows}


def next_position(connection: sqlite3.Connection, rater: str, total: int) -> int:
    """The first page the rater has not answered; `total` when they are done."""
    answered = answered_positions(connection, rater)
    return next((k for k in range(total) if k not in answered), total)


def add_view(connection: sqlite3.Connection, token: str, rater: str, position: int, item: Item) -> None:
    """Remember what the page `token` shows, so its media URLs say nothing a rater could read."""
    with _transaction(connection):
        connection.execute(
            "INSERT OR IGNORE INTO views VALUES (?, ?, ?, ?, ?)", (token, rater, position, item.pair, int(item.swapped))
        )


def find_view(connection: sqlite3.Connection, token: str) -> tuple[int, bool] | None:
    """(pair, swapped) of the page `token`, or None for a token no page had."""
    row = connection.execute("SELECT pair, swapped FROM views WHERE token = ?", (token,)).fetchone()
    return None if row is None else (row["pair"], bool(row["swapped"]))


def add_votes(
    connection: sqlite3.Connection,
    rater: str,
    position: int,
    item: Item,
    pair: PairSpec,
    answers: Mapping[str, str],
) -> bool:
    """Record one page's answers (question → left/right/same) in one transaction; False when that page already has
    votes (a form sent twice), which are kept."""
    left, right = (pair.method_b, pair.method_a) if item.swapped else (pair.method_a, pair.method_b)
    now = time.time()
    rows = [
        (rater, position, item.pair, question, choice, left, right, int(item.repeat), now)
        for question, choice in answers.items()
    ]
    with _transaction(connection):
        connection.execute("INSERT OR IGNORE INTO raters VALUES (?, ?)", (rater, now))
        if connection.execute("SELECT 1 FROM votes WHERE rater = ? AND position = ?", (rater, position)).fetchone():
            return False
        connection.executemany(
            "INSERT INTO votes (rater, position, pair, question, choice, left_method, right_method, is_repeat, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return True
