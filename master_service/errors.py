"""Errors the master answers with, each carrying its HTTP status."""

from http_errors import error_body


class ApiError(Exception):
    """A request the master refuses; the message says what to change."""

    status = 400

    def __init__(self, message: str, headers: dict | None = None, **details):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        self.details = details

    def to_json(self) -> dict:
        return error_body(self.message, self.status, **self.details)


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


class FormTooLargeError(ApiError):
    status = 400

    def __init__(self, max_files: int, other_fields: int, max_field_kb: int):
        super().__init__(
            f"the form is over this master's limits: at most MAX_FILES={max_files} "
            f"files and {other_fields} other fields, each text field at most "
            f"{max_field_kb} KB; split the request, and send large values as files",
            limit="MAX_FILES",
        )


class UnauthorizedError(ApiError):
    """A missing or wrong token."""

    status = 401


class ForbiddenError(ApiError):
    """A caller that no token admits: without CLUSTER_TOKEN, one not on this machine."""

    status = 403


class NotFoundError(ApiError):
    status = 404


class UnknownSlaveError(NotFoundError):
    pass


class NotASlaveError(ApiError):
    """The address a registration names does not answer as a slave should."""

    status = 422


class NoCapableSlaveError(ApiError):
    status = 503


class SlaveCallError(Exception):
    """A slave did not give a usable answer for a chunk; its files may go elsewhere."""
