"""The demo admin's generated password, handed from `portal_setup --demo` to the first
`runportal` start so it appears in the start-up block, then forgotten."""

import os

from django.conf import settings

FILE_NAME = "first-admin-password"


def _path():
    return settings.VAR_DIR / FILE_NAME


def first_password_save(password: str) -> None:
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Created 0600 in one call: no moment where another local user could read it.
    fd = os.open(_path(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password)


def first_password_take() -> str | None:
    """The password if this is the first start after it was generated; deletes it."""
    try:
        password = _path().read_text().strip()
    except FileNotFoundError:
        return None
    _path().unlink(missing_ok=True)
    return password or None
