"""The exception raised for every failing library call."""

from __future__ import annotations

from . import _lib


class WinnowError(Exception):
    """A libwinnow call failed.

    Attributes:
        status: the negative ``WN_ERR_*`` code the C function returned.
        name: the status's short name (``wn_status_string``).
        message: the library's message for this failure.
    """

    def __init__(self, status: int, message: str):
        self.status = status
        self.name = _lib.lib.wn_status_string(status).decode()
        self.message = message
        super().__init__(f"{message} [{self.name}, status {status}]")


def check(status: int, last_error=None) -> None:
    """Raises ``WinnowError`` unless ``status`` is 0.

    ``last_error`` is a zero-argument callable returning the handle's message
    (bytes); without one, the thread's last error is used.
    """
    if status != 0:
        text = last_error() if last_error else _lib.lib.wn_last_error()
        raise WinnowError(status, (text or b"").decode(errors="replace"))
