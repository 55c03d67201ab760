"""The one error a capture raises: its message says why, for a person (a form error, a command error)."""


class CaptureError(Exception):
    """A capture that cannot be made or stored; the message says why, for a person."""
