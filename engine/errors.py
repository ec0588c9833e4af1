"""Exceptions raised by plumetwin, each meant to be shown to a user as one clear message."""

from __future__ import annotations


class PlumetwinError(Exception):
    """Base class of every error plumetwin raises on purpose."""


class ConfigError(PlumetwinError, ValueError):
    """A configuration value is invalid; the message names the key and the fix."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"{key}: {message}")


class BackendUnavailableError(PlumetwinError, RuntimeError):
    """An explicitly requested array backend cannot run on this machine."""


class NumericalInstabilityError(PlumetwinError, FloatingPointError):
    """The solution stopped being finite, or a fixed time step broke a stability limit."""


class CheckpointError(PlumetwinError, RuntimeError):
    """A checkpoint cannot be read or does not match the model it should resume."""
