"""Domain errors shared by the apps.

Bad input raises django.core.exceptions.ValidationError with a {field: [reason]} dict
(the API turns it into a 400); a request that clashes with the current state raises
ConflictError (a 409). Both are raised before anything is written.
"""


class ConflictError(Exception):
    """The request is valid but the object's state does not allow it now. With `field`, the
    clash is one field's (a duplicate): the answer names it, `{"field": ["reason"]}`."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
