"""Errors raised by actions; each carries a message fit for the user and an HTTP status."""


class ActionError(Exception):
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Invalid(ActionError):
    status = 400


class NotAllowed(ActionError):
    status = 403


class Conflict(ActionError):
    status = 409


class Gone(ActionError):
    status = 410


class TooLarge(ActionError):
    status = 413
