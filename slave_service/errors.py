"""Errors a processor raises for one file."""


class ProcessingError(Exception):
    """The file cannot be processed; the message says why, for the person who sent it."""
