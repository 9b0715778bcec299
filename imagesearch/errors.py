"""Errors that reach users as one actionable line."""


class ArtifactError(ValueError):
    """An artifact set is missing, inconsistent or unsafe.

    The message names the file, the offending value and the fix, in one line.
    """


class QueryError(ValueError):
    """A search request cannot be answered as given (empty query, bad k, ...)."""


class ConfigError(ValueError):
    """A setting from the command line or the environment is invalid."""
