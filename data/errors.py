"""The errors a user can act on. Light on purpose: the command line maps them to exit codes before anything heavy
is imported. BadInput is the user's to fix (exit 2); every other SpxWheelError is a failure of data, storage or
state (exit 1). Each carries one line of text."""


class SpxWheelError(Exception):
    """A failure the user can act on: one line on stderr, exit 1."""


class BadInput(SpxWheelError, ValueError):
    """An input out of range or of the wrong form: one line on stderr, exit 2."""


class DataError(SpxWheelError):
    """Market data is missing, malformed or cannot be fetched."""
