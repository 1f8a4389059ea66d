"""Errors a user can read. Services raise these; pages and the API show the message as it is."""


class UserError(ValueError):
    """Bad input or an action that is not allowed in the current state. The message says what to fix."""


class NotFound(UserError):
    pass


class PermissionDenied(UserError):
    pass
