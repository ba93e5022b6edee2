"""The error a request handler raises to answer with a plain-text HTTP error status."""

from __future__ import annotations


class HttpError(Exception):
    """An HTTP error reply: `status` (400, 403, 404, 413, ...) and a plain-text message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message
