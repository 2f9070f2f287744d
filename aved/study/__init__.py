"""`aved study`: a human A/B evaluation of edits, its votes in SQLite.

runs.py reads the bench folders a study compares, pairs.py makes the pairs and each rater's order, db.py holds the
study's file (pairs, raters, votes), pages.py and server.py are the rating web app, report.py counts the votes.
"""

from aved.study.db import create_study
from aved.study.report import study_report, write_study_report
from aved.study.server import make_server, serve, server_url

__all__ = ["create_study", "make_server", "serve", "server_url", "study_report", "write_study_report"]
