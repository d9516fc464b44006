"""The engine's errors: each says what was wrong and what to do, in one line fit for a user.

Only the classes live here (no imports), so that any module may raise them without importing
the module that raises them most: the spec, the snapshot loader, the command line.
"""


class SpecError(ValueError):
    """A net spec that cannot be built; the message names the layer and what to do."""


class SnapshotError(ValueError):
    """A snapshot that cannot be read; the message says what is wrong and what to do."""


class UserError(Exception):
    """A mistake in what the user asked the command line for; printed as one line."""


class ExportError(ValueError):
    """An export that cannot be made; the message says why and what to do."""
