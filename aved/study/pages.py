"""The rating app's HTML: the start form, the rating page, the thank-you page. Every text is escaped, and a page
names its media only by the page's opaque token and a side, never a method, a clip or a file."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from aved.study.db import QUESTIONS

SIDES = ("left", "right")
CHOICE_LABELS = {"left": "Left", "right": "Right", "same": "About the same"}
TITLE = "aved study"
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 70rem; padding: 0 1rem; color: #222; }
.clips { display: flex; gap: 1rem; flex-wrap: wrap; }
figure { margin: 0 0 1rem; flex: 1 1 20rem; }
.source-row { justify-content: center; }
.source-row figure { flex: 0 1 calc(50% - .5rem); }
figcaption { font-weight: 600; margin-bottom: .3rem; }
video { width: 100%; background: #000; border-radius: 4px; }
.prompt { font-size: 1.1rem; background: #f3f3f3; padding: .6rem .8rem; border-radius: 4px; }
fieldset { border: 1px solid #ccc; border-radius: 4px; margin: .8rem 0; }
label { margin-right: 1.2rem; }
.error { color: #a00; font-weight: 600; }
#progress { color: #555; }
button { font-size: 1rem; padding: .5rem 1.4rem; }
"""


@dataclass
class RatingView:
    """What one rating page shows."""

    rater: str
    position: int
    total: int
    token: str
    questions: list[str]
    source_prompt: str
    target_prompt: str
    error: str = ""
    answers: Mapping[str, str] = field(default_factory=dict)


def _page(title: str, body: str) -> str:
    """A whole HTML document around `body` (already escaped)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _error(message: str) -> str:
    return f'<p class="error" id="error">{html.escape(message)}</p>' if message else ""


def start_page(message: str = "", rater: str = "") -> str:
    """Ask the rater's id; a rater who comes back with the same id resumes where they stopped."""
    body = (
        f"<h1>{html.escape(TITLE)}</h1>\n"
        "<p>You will see a source clip and two edits of it, and say which edit does better on each question. "
        "Watch with the sound on. Use the same id each time you come back to go on where you stopped.</p>\n"
        f"{_error(message)}\n"
        '<form id="start" method="get" action="/rate">'
        '<label for="rater">Your rater id</label> '
        f'<input id="rater" name="rater" required maxlength="64" value="{html.escape(rater)}"> '
        '<button id="begin" type="submit">Start</button></form>'
    )
    return _page(TITLE, body)


def media_url(token: str, what: str) -> str:
    """/media/<page token>/<left|right|source>."""
    return f"/media/{quote(token)}/{what}"


def _video(token: str, what: str, caption: str) -> str:
    return (
        f"<figure><figcaption>{html.escape(caption)}</figcaption>"
        f'<video id="{what}" controls preload="auto" playsinline src="{html.escape(media_url(token, what))}">'
        "</video></figure>"
    )


def _question(question: str, chosen: str | None) -> str:
    """One required radio group: left / right / same."""
    name = f"q_{question}"
    options = "".join(
        f'<label><input type="radio" id="{name}_{value}" name="{name}" value="{value}" required'
        f"{' checked' if value == chosen else ''}> {html.escape(label)}</label>"
        for value, label in CHOICE_LABELS.items()
    )
    return f'<fieldset id="{name}"><legend>{html.escape(QUESTIONS[question])}</legend>{options}</fieldset>'


def rating_page(view: RatingView) -> str:
    """The source, the two edits side by side, the prompt, one question group each, and a submit button."""
    questions = "\n".join(_question(q, view.answers.get(q)) for q in view.questions)
    body = (
        f"<h1>{html.escape(TITLE)}</h1>\n"
        f'<p id="progress">Pair {view.position + 1} of {view.total}</p>\n'
        f"{_error(view.error)}\n"
        f'<p>Source: <span id="source_prompt">{html.escape(view.source_prompt)}</span></p>\n'
        f'<p class="prompt">Target prompt: <strong id="target_prompt">{html.escape(view.target_prompt)}</strong></p>\n'
        f'<div class="clips source-row">{_video(view.token, "source", "Source")}</div>\n'
        f'<div class="clips">{_video(view.token, "left", "Left edit")}'
        f"{_video(view.token, 'right', 'Right edit')}</div>\n"
        '<form id="vote" method="post" action="/rate">'
        f'<input type="hidden" name="rater" value="{html.escape(view.rater)}">'
        f'<input type="hidden" name="position" value="{view.position}">'
        f'<input type="hidden" name="token" value="{html.escape(view.token)}">\n'
        f"{questions}\n"
        '<button id="submit" type="submit">Submit and go on</button></form>'
    )
    return _page(f"{TITLE}: pair {view.position + 1} of {view.total}", body)


def done_page(rater: str, answered: int, total: int) -> str:
    """The thank-you page, with how many pages the rater answered."""
    body = (
        f"<h1>{html.escape(TITLE)}</h1>\n"
        f'<p id="done">Thank you, {html.escape(rater)}! You answered {answered} of {total} pairs.</p>'
    )
    return _page(f"{TITLE}: done", body)


def message_page(title: str, message: str) -> str:
    """A page that only says what went wrong (an unknown page, a form out of order), with a way back."""
    body = f'<h1>{html.escape(title)}</h1>\n{_error(message)}\n<p><a href="/">Back to the start</a></p>'
    return _page(f"{TITLE}: {title}", body)
