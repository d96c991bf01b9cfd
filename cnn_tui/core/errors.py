"""The error types the core raises for bad input.

Every front end catches :class:`CnnTuiError` and shows ``str(error)`` as one line
(exit code 2 on the CLI, a notification in the TUI). Anything else is a bug.
"""

from __future__ import annotations


class CnnTuiError(Exception):
    """Bad input from the user: a config, a file, a dataset, an argument."""


class ConfigError(CnnTuiError):
    """A config or preset file, key or value is invalid."""


class PresetError(CnnTuiError):
    """A preset name is unknown or invalid."""


class DataError(CnnTuiError):
    """A dataset cannot be found, read or split."""


class ModelError(CnnTuiError):
    """An architecture cannot be built for the given input."""


class RunStoreError(CnnTuiError):
    """A run folder cannot be found, read or written."""
