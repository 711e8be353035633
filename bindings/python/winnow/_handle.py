"""The life cycle shared by every class that owns a library handle."""

from __future__ import annotations

from ._errors import check
from ._lib import lib


class LibraryObject:
    """Owns one ``wn_<kind>`` handle of libwinnow.

    Subclasses set ``_kind`` (``"projector"``, ``"engine"``, …) and store the
    handle in ``_handle``. The handle is freed by ``close()``, on leaving a
    ``with`` block, or when the object is garbage collected; failing calls
    raise ``WinnowError`` with the handle's own last-error message.
    """

    _kind = ""
    #: Stays ``None`` until the library has created the object, so a failed
    #: constructor leaves nothing to free.
    _handle = None

    def _check(self, status: int) -> None:
        check(status, lambda: getattr(lib, f"wn_{self._kind}_last_error")(self._handle))

    def close(self) -> None:
        """Frees the library object now (also done when garbage collected)."""
        if self._handle:
            getattr(lib, f"wn_{self._kind}_free")(self._handle)
            self._handle = None

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
