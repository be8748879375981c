"""Request bodies for the upload tests that Werkzeug's test client cannot measure.

The test client calls ``tell``/``seek`` to set Content-Length; these report 0, so the request goes
out without one (like a chunked upload), or with whatever length the test declares.
"""

from __future__ import annotations

import io


class BodyStream(io.RawIOBase):
    """Serves ``data``; with ``data=None`` any read fails the test (the body must not be read)."""

    def __init__(self, data: bytes | None) -> None:
        self.data = None if data is None else io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return 0

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def readinto(self, buffer) -> int:
        if self.data is None:
            raise AssertionError("the body was read although its declared length is over the limit")
        return self.data.readinto(buffer)
