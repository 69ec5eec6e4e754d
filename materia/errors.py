"""The one exception type the CLI turns into a single clear line and a non-zero exit."""


class MateriaError(Exception):
    """A failure with a one-line, user-facing message naming what and where."""
