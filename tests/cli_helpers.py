"""Running the `aved` command line (in-process, or as a process to signal) and judging how it ended."""

import os
import signal
import subprocess
import sys
import threading
import time

from aved.cli import main


def run_cli(capsys, *argv):
    """(exit code, stdout, stderr) of `aved ARGV`."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def stderr_lines(err):
    """stderr's lines as a terminal would leave them (a progress bar redraws its line after each \\r)."""
    return [line.split("\r")[-1] for line in err.splitlines() if line.split("\r")[-1].strip()]


def assert_one_line_failure(code, err, *needles, exit_code=2):
    """Exit 2 (input errors; 1 for a run that failed), stderr ending in one `aved: error: …` line holding every
    needle, no other message, no traceback."""
    assert code == exit_code, (code, err)
    lines = stderr_lines(err)
    errors = [line for line in lines if line.startswith("aved: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert "Traceback" not in err
    for needle in needles:
        assert str(needle) in errors[0], (needle, errors[0])


def warnings_in(err):
    """The `aved: warning: …` lines of stderr."""
    return [line for line in stderr_lines(err) if line.startswith("aved: warning: ")]


def run_and_signal(argv, signum, cwd=None, marker="edit (", timeout=180):
    """Start `python -m aved ARGV`, send `signum` a second after its progress bar shows `marker`; (code, out, err).
    The child gets SIGINT's default action back: a shell's background job inherits it ignored."""
    process = subprocess.Popen(
        [sys.executable, "-m", "aved", *map(str, argv)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "AVED_PROGRESS": "1"},  # the bar shows on a pipe too
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    seen_out, seen_err = [], []
    readers = [
        threading.Thread(target=lambda s=s, into=into: into.extend(iter(lambda: s.read(1), "")), daemon=True)
        for s, into in ((process.stdout, seen_out), (process.stderr, seen_err))
    ]
    for reader in readers:
        reader.start()
    if signum is not None:
        deadline = time.monotonic() + timeout
        while marker not in "".join(seen_err) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        time.sleep(1.0)
        process.send_signal(signum)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(timeout=10)
    return process.returncode, "".join(seen_out), "".join(seen_err), usage.ru_maxrss / 1024
