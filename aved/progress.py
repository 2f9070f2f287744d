"""Progress bars: shown where someone watches (stderr a terminal), off in logs and for `progress=False`.

Every tqdm bar of the library takes `disable=bar_disable(progress)`, with the `progress` its caller passed.
`AVED_PROGRESS=1` in the environment forces the bars on where stderr is not a terminal (a CI log that wants
them), `AVED_PROGRESS=0` turns them off everywhere; `progress=False` always wins.
"""

from __future__ import annotations

import os

PROGRESS_ENV = "AVED_PROGRESS"


def bar_disable(progress: bool = True) -> bool | None:
    """tqdm's `disable` for one bar: True (off) for progress=False or AVED_PROGRESS=0, False (on) where
    AVED_PROGRESS=1 forces it, else None: tqdm's own rule, off unless its stream is a terminal."""
    if not progress:
        return True
    forced = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if forced in ("0", "false", "no", "off"):
        return True
    if forced in ("1", "true", "yes", "on"):
        return False
    return None
