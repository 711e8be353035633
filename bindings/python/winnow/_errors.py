"""The exceptions raised for failing library calls: one class per status,
each also derived from the builtin exception it means, so that
``except ValueError`` catches a shape error whether the binding or the
library found it.

=========================  =========================  ===================
status                     class                      also a
=========================  =========================  ===================
``WN_ERR_INVALID_ARGUMENT``  ``InvalidArgumentError``  ``ValueError``
``WN_ERR_SHAPE``           ``ShapeError``             ``ValueError``
``WN_ERR_NON_FINITE``      ``NonFiniteError``         ``ValueError``
``WN_ERR_IO``              ``LibraryIOError``         ``OSError``
``WN_ERR_FORMAT``          ``FormatError``            ``ValueError``
``WN_ERR_OUT_OF_MEMORY``   ``OutOfMemoryError``       ``MemoryError``
``WN_ERR_BAD_STATE``       ``BadStateError``          ``RuntimeError``
``WN_ERR_UNSUPPORTED``     ``UnsupportedError``       ``NotImplementedError``
``WN_ERR_NUMERICAL``       ``NumericalError``         ``ArithmeticError``
``WN_ERR_NULL_POINTER``    ``NullPointerError``       ``ValueError``
``WN_ERR_BUFFER_TOO_SMALL``  ``BufferTooSmallError``   ``ValueError``
``WN_ERR_INTERNAL``        ``InternalError``          ``RuntimeError``
=========================  =========================  ===================

Every class derives from ``WinnowError``; an unknown status raises
``WinnowError`` itself.
"""

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

    def __reduce__(self):
        # Picklable with its status (Ray and multiprocessing carry errors across).
        return (_from_status, (self.status, self.message))


class InvalidArgumentError(WinnowError, ValueError):
    """``WN_ERR_INVALID_ARGUMENT``: a parameter is out of range."""


class ShapeError(WinnowError, ValueError):
    """``WN_ERR_SHAPE``: dimensions or counts do not agree."""


class NonFiniteError(WinnowError, ValueError):
    """``WN_ERR_NON_FINITE``: an input holds NaN or infinity."""


class LibraryIOError(WinnowError, OSError):
    """``WN_ERR_IO``: a file cannot be opened or written."""

    def __init__(self, status: int, message: str):
        WinnowError.__init__(self, status, message)

    def __str__(self):
        return Exception.__str__(self)


class FormatError(WinnowError, ValueError):
    """``WN_ERR_FORMAT``: a file is malformed or truncated."""


class OutOfMemoryError(WinnowError, MemoryError):
    """``WN_ERR_OUT_OF_MEMORY``: an allocation failed or is too large."""


class BadStateError(WinnowError, RuntimeError):
    """``WN_ERR_BAD_STATE``: a call out of order."""


class UnsupportedError(WinnowError, NotImplementedError):
    """``WN_ERR_UNSUPPORTED``: a valid input Winnow cannot handle."""


class NumericalError(WinnowError, ArithmeticError):
    """``WN_ERR_NUMERICAL``: a numerical routine failed."""


class NullPointerError(WinnowError, ValueError):
    """``WN_ERR_NULL_POINTER``: a required pointer or handle is missing."""


class BufferTooSmallError(WinnowError, ValueError):
    """``WN_ERR_BUFFER_TOO_SMALL``: an output capacity is too small."""


class InternalError(WinnowError, RuntimeError):
    """``WN_ERR_INTERNAL``: a bug in Winnow; please report it."""


#: ``WN_ERR_*`` code -> exception class.
CLASSES = {-1: InvalidArgumentError, -2: ShapeError, -3: NonFiniteError, -4: LibraryIOError,
           -5: FormatError, -6: OutOfMemoryError, -7: BadStateError, -8: UnsupportedError,
           -9: NumericalError, -10: NullPointerError, -11: BufferTooSmallError,
           -99: InternalError}


def _from_status(status: int, message: str) -> WinnowError:
    return CLASSES.get(status, WinnowError)(status, message)


def check(status: int, last_error=None) -> None:
    """Raises the status's ``WinnowError`` subclass unless ``status`` is 0.

    ``last_error`` is a zero-argument callable returning the handle's message
    (bytes); without one, the thread's last error is used.
    """
    if status != 0:
        text = last_error() if last_error else _lib.lib.wn_last_error()
        raise _from_status(status, (text or b"").decode(errors="replace"))


#: ``WN_ERR_SHAPE``: dimensions or counts do not agree.
SHAPE = -2


def shape_error(message: str) -> ShapeError:
    """A ``WN_ERR_SHAPE`` error found by the binding before calling the library
    (array shapes the C side cannot see), raised like the library's own."""
    return ShapeError(SHAPE, message)
