"""The domain's one error: an accepted event that does not fit the state."""

from __future__ import annotations


class CannotApply(Exception):
    """An accepted event contradicts the state: a bug or a corrupt log, never skipped."""
