"""Errors whose message is meant for the person at the keyboard.

Each says what was wrong (naming the field) and what to do. The UI shows the
message as is (never a traceback); the command line prints it on one line and
exits with status 2.
"""

from __future__ import annotations


class StudioError(Exception):
    """Base class: `str(error)` is a complete, user-facing sentence."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InputError(StudioError, ValueError):
    """Bad input from the user: a prompt, a template, a file, a setting."""


class LimitError(InputError):
    """Input within the rules but beyond a stated limit (too many tokens ...)."""


class ModelLoadError(StudioError):
    """A model spec that is unknown, not allowed, or cannot be loaded here."""


class Cancelled(StudioError):
    """A job stopped between its pieces because its owner cancelled it (or left)."""

    def __init__(self, message: str = "Cancelled: the job was stopped before it finished.") -> None:
        super().__init__(message)
