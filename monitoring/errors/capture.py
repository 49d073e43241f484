"""capture_exception / capture_message for the portal's own code. Never raises into the caller."""


def capture_exception(exc=None, *, service=None, request=None, tags=None) -> str | None:
    raise NotImplementedError


def capture_message(message: str, *, level: str = "info", service=None, request=None, tags=None) -> str | None:
    raise NotImplementedError
