"""One error tree for the whole project (STYLE.md §8).

Every error a user can cause derives from `AkidaEdgeError` and also from the matching builtin, so
callers may catch either. Messages name the object, the value and the fix, in one line: the CLI
prints `akida-edge: error: <message>` and exits non-zero, never a traceback.
"""

from __future__ import annotations


class AkidaEdgeError(Exception):
    """Root of every error akida-edge raises on purpose."""

    exit_code = 2


class ConfigError(AkidaEdgeError, ValueError):
    """A configuration file or value is invalid (names file, key path and fix)."""


class ModelError(AkidaEdgeError, ValueError):
    """A model, layer parameter or layer variable is invalid."""


class ModelFileError(AkidaEdgeError, ValueError):
    """A model file is missing, truncated, corrupt or from a newer version."""


class MappingError(AkidaEdgeError, ValueError):
    """A model does not fit the AKD1000 (hardware limits, processors or memory)."""


class InputDataError(AkidaEdgeError, ValueError):
    """Input data does not match what the model or encoder expects."""


class LearningError(AkidaEdgeError, ValueError):
    """Edge learning was asked of a model or state that cannot do it."""


class StateError(AkidaEdgeError, ValueError):
    """Per-device learned state is unreadable, corrupt or incompatible."""


class SourceError(AkidaEdgeError, OSError):
    """A sensor or file source cannot be opened or read."""


class MqttError(AkidaEdgeError, ConnectionError):
    """The MQTT broker refused us or cannot be reached."""
