"""The rating web app on the standard library's ThreadingHTTPServer: one SQLite connection per request, every vote
committed before the answer, media served only through per-page tokens (Range requests too, so videos seek)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import mimetypes
import os
import re
import sqlite3
import unicodedata
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from aved.errors import AvedError
from aved.study.db import (
    CHOICES,
    Study,
    add_rater,
    add_view,
    add_votes,
    answered_positions,
    find_view,
    load_study,
    next_position,
    study_connection,
)
from aved.study.pages import SIDES, RatingView, done_page, message_page, rating_page, start_page

logger = logging.getLogger("aved.study")

MAX_RATER_CHARS = 64
MAX_FORM_BYTES = 16 * 1024  # a vote form is a few hundred bytes
TOKEN_HEX_CHARS = 32
CHUNK_BYTES = 256 * 1024
MEDIA_WHAT = (*SIDES, "source")
_MEDIA_PATH = re.compile(r"^/media/([0-9a-f]+)/([a-z]+)$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class StudyServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its study (settings and pairs; votes are read per request)."""

    daemon_threads = True  # a rater's open video stream must not keep a stopping server alive

    def __init__(self, address: tuple[str, int], study: Study):
        self.study = study
        super().__init__(address, StudyHandler)


def make_server(db_path: str | Path, host: str = "127.0.0.1", port: int = 0) -> StudyServer:
    """A server for the study at `db_path`, bound but not yet serving (port 0: any free port, see server_address)."""
    study = load_study(db_path)
    try:
        return StudyServer((host, port), study)
    except OSError as err:
        raise AvedError(f"{host}:{port}: cannot listen there ({err.strerror or err})") from None


def server_url(server: StudyServer) -> str:
    """http://host:port/ of a bound server (the port it got when asked for 0)."""
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"


def serve(
    db_path: str | Path, host: str = "127.0.0.1", port: int = 0, on_ready: Callable[[str], None] | None = None
) -> None:
    """Serve the study until interrupted (Ctrl-C stops it cleanly; a kill loses no vote it acknowledged).

    `on_ready(url)` is called once the port is bound, before the first request is served (the CLI prints the URL).
    """
    server = make_server(db_path, host, port)
    url = server_url(server)
    logger.info("study %s: %s (%d pairs)", db_path, url, len(server.study.pairs))
    if on_ready is not None:
        on_ready(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("study %s: stopped", db_path)
    finally:
        server.server_close()


def view_token(study: Study, rater: str, position: int) -> str:
    """The opaque name of one page of one rater (a repeat gets a new one, so it looks like any other page)."""
    message = f"{rater}\0{position}".encode()
    return hmac.new(study.secret.encode(), message, hashlib.sha256).hexdigest()[:TOKEN_HEX_CHARS]


def rater_problem(rater: str) -> str:
    """Why `rater` cannot be a rater id ('' when it can)."""
    if not rater:
        return "Please enter a rater id."
    if len(rater) > MAX_RATER_CHARS:
        return f"A rater id has at most {MAX_RATER_CHARS} characters; this one has {len(rater)}."
    if any(unicodedata.category(ch).startswith("C") for ch in rater):
        return "A rater id cannot hold control or invisible characters."
    return ""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a one-range `Range: bytes=…` header within `size`; None for the whole file; ValueError
    for a range it cannot satisfy."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None or not (match[1] or match[2]):
        return None  # several ranges or another unit: the whole file is a valid answer
    if not match[1]:  # the last N bytes
        first, last = max(0, size - int(match[2])), size - 1
    else:
        first = int(match[1])
        last = min(int(match[2]), size - 1) if match[2] else size - 1
    if first >= size or first > last:
        raise ValueError(f"bytes {header} of {size}")
    return first, last


class StudyHandler(BaseHTTPRequestHandler):
    """Routes: / (the rater id), /rate (GET the next page, POST its votes), /media/<token>/<left|right|source>."""

    server: StudyServer
    server_version = "aved-study"

    def log_message(self, format: str, *args) -> None:
        logger.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # http.server's naming
        self._dispatch(self._get)

    def do_HEAD(self) -> None:
        self._dispatch(self._head)

    def do_POST(self) -> None:
        self._dispatch(self._post)

    def _dispatch(self, route) -> None:
        """Run a route; what fails inside is logged and answered with a page, never a dropped connection."""
        try:
            route()
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("%s closed the connection", self.address_string())
        except sqlite3.OperationalError as err:
            logger.warning("study file busy or unreadable: %s", err)
            self._html(HTTPStatus.SERVICE_UNAVAILABLE, message_page("Busy", "The study is busy; please try again."))
        except AvedError as err:  # its text names the study's files: the log has it, the rater does not
            logger.error("%s", err)
            page = message_page("Error", "The study cannot show this page now; its server's log says why.")
            self._html(HTTPStatus.INTERNAL_SERVER_ERROR, page)
        except Exception:
            logger.exception("request %s failed", self.path)
            self._html(HTTPStatus.INTERNAL_SERVER_ERROR, message_page("Error", "Something went wrong on the server."))

    # ------------------------------------------------------------------------------------------- routes

    def _get(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/":
            self._html(HTTPStatus.OK, start_page())
        elif url.path == "/rate":
            self._next_page(query.get("rater", [""])[0].strip())
        elif match := _MEDIA_PATH.match(url.path):
            self._media(match[1], match[2])
        else:
            self._html(HTTPStatus.NOT_FOUND, message_page("Not found", "There is no such page."))

    def _head(self) -> None:
        """GET's headers, except that /rate records nothing: a link checker's HEAD is no rater's view."""
        if urlsplit(self.path).path == "/rate":
            self._html(HTTPStatus.OK, "")
        else:
            self._get()

    def _post(self) -> None:
        if urlsplit(self.path).path != "/rate":
            self._html(HTTPStatus.NOT_FOUND, message_page("Not found", "There is no such page."))
            return
        form = self._form()
        if form is not None:
            self._vote(form)

    def _next_page(self, rater: str, error: str = "", answers: dict[str, str] | None = None) -> None:
        """The rater's first unanswered page, or the thank-you page."""
        problem = rater_problem(rater)
        if problem:
            self._html(HTTPStatus.BAD_REQUEST, start_page(problem, rater[:MAX_RATER_CHARS]))
            return
        study = self.server.study
        items = study.items(rater)
        with study_connection(study.path) as connection:
            add_rater(connection, rater)
            position = next_position(connection, rater, len(items))
            if position == len(items):
                self._html(HTTPStatus.OK, done_page(rater, position, len(items)))
                return
            token = view_token(study, rater, position)
            add_view(connection, token, rater, position, items[position])
        pair = study.pairs[items[position].pair]
        view = RatingView(
            rater,
            position,
            len(items),
            token,
            study.questions,
            pair.source_prompt,
            pair.target_prompt,
            error,
            answers or {},
        )
        status = HTTPStatus.BAD_REQUEST if error else HTTPStatus.OK
        self._html(status, rating_page(view))

    def _vote(self, form: dict[str, str]) -> None:
        """Record one page's answers, then send the rater on to their next page (POST, then redirect, then GET)."""
        study = self.server.study
        rater = form.get("rater", "").strip()
        if rater_problem(rater):
            self._next_page(rater)
            return
        items = study.items(rater)
        position = _whole_number(form.get("position", ""))
        if position is None or position >= len(items) or form.get("token") != view_token(study, rater, position):
            self._html(HTTPStatus.BAD_REQUEST, message_page("Unknown page", "This form is not one of your pages."))
            return
        with study_connection(study.path) as connection:
            answered = position in answered_positions(connection, rater)
            in_order = position == next_position(connection, rater, len(items))
        if not answered and not in_order:
            self._html(HTTPStatus.CONFLICT, message_page("Out of order", "Please rate the pairs in order."))
            return
        answers = {q: form.get(f"q_{q}", "") for q in study.questions}
        if not answered and not all(choice in CHOICES for choice in answers.values()):
            kept = {q: c for q, c in answers.items() if c in CHOICES}
            self._next_page(rater, "Please answer every question.", kept)
            return
        if not answered:
            # A form sent twice at once: add_votes re-checks inside its transaction and keeps the first.
            with study_connection(study.path) as connection:
                add_votes(connection, rater, position, items[position], study.pairs[items[position].pair], answers)
        self._redirect(f"/rate?rater={quote(rater)}")

    def _form(self) -> dict[str, str] | None:
        """The POSTed form (first value of each field), or None after answering a too large one."""
        length = _whole_number(self.headers.get("Content-Length", "0"))
        if length is None or length > MAX_FORM_BYTES:
            self._html(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, message_page("Too large", "That form is too large."))
            return None
        fields = parse_qs(self.rfile.read(length).decode("utf-8", errors="replace"), keep_blank_values=True)
        return {key: values[0] for key, values in fields.items()}

    def _media(self, token: str, what: str) -> None:
        """One of a page's three clips; 404 for a token no page had."""
        with study_connection(self.server.study.path) as connection:
            view = find_view(connection, token)
        if view is None or what not in MEDIA_WHAT:
            self._html(HTTPStatus.NOT_FOUND, message_page("Not found", "There is no such clip."))
            return
        pair = self.server.study.pairs[view[0]]
        left, right = (pair.media_b, pair.media_a) if view[1] else (pair.media_a, pair.media_b)
        path = {"left": left, "right": right, "source": pair.media_source}[what]
        self._file(path)

    # ------------------------------------------------------------------------------------------- answers

    def _file(self, path: Path) -> None:
        """A media file, whole or the one byte range asked."""
        try:
            handle = open(path, "rb")  # closed below: a missing file is answered before any header goes out
        except OSError as err:
            logger.error("%s: cannot read the clip (%s)", path, err.strerror or err)
            self._html(HTTPStatus.NOT_FOUND, message_page("Not found", "That clip is missing on the server."))
            return
        with handle:
            size = os.fstat(handle.fileno()).st_size
            try:
                span = byte_range(self.headers.get("Range"), size)
            except ValueError:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            first, last = span if span else (0, size - 1)
            self.send_response(HTTPStatus.PARTIAL_CONTENT if span else HTTPStatus.OK)
            self.send_header("Content-Type", mimetypes.guess_type(path.name)[0] or "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(last - first + 1))
            if span:
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.send_header("Cache-Control", "private, max-age=3600")
            self.end_headers()
            if self.command != "HEAD":
                _copy(handle, self.wfile, first, last - first + 1)

    def _html(self, status: HTTPStatus, page: str) -> None:
        body = page.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # the back button must not show a page already answered
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _whole_number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _copy(source, target, offset: int, count: int) -> None:
    """`count` bytes of `source` from `offset` to `target`, a chunk at a time."""
    source.seek(offset)
    while count > 0:
        chunk = source.read(min(CHUNK_BYTES, count))
        if not chunk:
            break
        target.write(chunk)
        count -= len(chunk)
