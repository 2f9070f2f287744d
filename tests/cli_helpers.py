"""Running the `aved` command line in-process and judging how it ended."""

from aved.cli import main


def run_cli(capsys, *argv):
    """(exit code, stdout, stderr) of `aved ARGV`."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _lines(err):
    """stderr's lines as a terminal would leave them (a progress bar redraws its line after each \\r)."""
    return [line.split("\r")[-1] for line in err.splitlines() if line.split("\r")[-1].strip()]


def assert_one_line_failure(code, err, *needles):
    """Exit 2, stderr ending in one `aved: error: …` line holding every needle, no other message, no traceback."""
    assert code == 2, (code, err)
    lines = _lines(err)
    errors = [line for line in lines if line.startswith("aved: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert "Traceback" not in err
    for needle in needles:
        assert str(needle) in errors[0], (needle, errors[0])


def warnings_in(err):
    """The `aved: warning: …` lines of stderr."""
    return [line for line in _lines(err) if line.startswith("aved: warning: ")]
