"""User-facing errors.

Every failure a user can act on raises a :class:`GenlabError` subclass carrying a
``message`` (what went wrong) and a ``hint`` (what to do about it). The CLI prints
``error: …`` / ``hint: …`` and exits with :attr:`GenlabError.exit_code`:
2 for bad input, 1 for internal failures.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GenlabError(Exception):
    """Base class of all errors genlab reports to users."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class BadInputError(GenlabError):
    """The user gave something genlab cannot use (path, option, file)."""

    exit_code = 2


class ConfigError(BadInputError):
    """A configuration value or key is invalid."""


class UnknownNameError(BadInputError):
    """A model, dataset, metric, task or config key name is not known."""


class DataError(BadInputError):
    """A dataset is missing, empty or unreadable."""


class CheckpointError(BadInputError):
    """A directory or file is not a valid genlab model or run."""


class TrainingDivergedError(GenlabError):
    """A loss became NaN or infinite; training stopped and the last good checkpoint was kept."""

    exit_code = 1


def closest(name: str, choices: Iterable[str]) -> str | None:
    """Return the choice closest to ``name`` (difflib ratio ≥ 0.5), or None."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return matches[0] if matches else None


def unknown_name(kind: str, name: str, choices: Iterable[str]) -> UnknownNameError:
    """Build an :class:`UnknownNameError` listing valid names and the closest match."""
    choices = sorted(choices)
    guess = closest(name, choices)
    hint = f"did you mean '{guess}'? " if guess else ""
    hint += "valid: " + ", ".join(choices) if choices else "none are registered"
    return UnknownNameError(f"unknown {kind} '{name}'", hint)
