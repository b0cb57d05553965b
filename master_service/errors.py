"""Errors the master answers with, each carrying its HTTP status."""


class ApiError(Exception):
    """A request the master refuses; the message says what to change."""

    status = 400

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict:
        return {"status": "error", "error": self.message, **self.details}


class BadRequestError(ApiError):
    status = 400


class TooManyFilesError(ApiError):
    status = 400

    def __init__(self, max_files: int):
        super().__init__(
            f"the request holds more than MAX_FILES={max_files} files; "
            "split it into several requests",
            limit="MAX_FILES",
        )


class UnknownSlaveError(ApiError):
    status = 404


class NoCapableSlaveError(ApiError):
    status = 503


class SlaveCallError(Exception):
    """A slave did not give a usable answer for a chunk; its files may go elsewhere."""
