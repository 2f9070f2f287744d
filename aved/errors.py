"""The one exception type that the CLI turns into a one-line message and a non-zero exit."""


class AvedError(Exception):
    """A problem with the user's input or environment, explained in one line (no traceback); exit 2."""

    exit_code = 2


class RunFailed(AvedError):
    """The input was fine but the run did not do all it should (clips failed): exit 1, not the input errors' 2."""

    exit_code = 1


class AvedWarning(UserWarning):
    """Something the run goes on with but the user should know (the CLI prints it as `aved: warning: …`)."""


def warn(message: str) -> None:
    """Issue an AvedWarning from the library's caller's point of view."""
    import warnings

    warnings.warn(AvedWarning(message), stacklevel=3)
