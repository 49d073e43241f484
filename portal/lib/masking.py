"""Credentials inside free text: URL userinfo and secret-looking query parameters. Framework-free.

Used by the error reports (portal/errorreports.py) and the error-event scrubber
(monitoring/errors/scrub.py). RE2, because the text comes from outside (error events) and a
backtracking engine is quadratic on some inputs (e.g. "a.a.a.a…" against the scheme pattern)."""

import re2

# Django's SafeExceptionReporterFilter.cleansed_substitute, said here so this stays framework-free.
SUBSTITUTE = "********************"

# scheme://userinfo@ — the userinfo is a password ("user:pw") or often a token alone (Sentry
# DSNs, "https://<token>@github.com/..."), so all of it but a user name is masked.
_USERINFO = re2.compile(r"(?i)(?P<scheme>\b[a-z][a-z0-9+.\-]*://)(?P<userinfo>[^\s/@?#]+)@")
# A parameter starts after "?", "&" or ";", or opens the text: a bare query string
# ("token=abc&page=2", as held in QUERY_STRING) has nothing before its first parameter.
_PARAM_WORDS = ("pass", "pwd", "token", "key", "secret", "sig", "auth", "credential", "session", "csrf")
_SECRET_PARAM = re2.compile(
    r"(?i)(?P<name>(?:^|[?&;])[^=&#\s]*(?:" + "|".join(_PARAM_WORDS) + r")[^=&#\s]*=)[^&#\s]*",
)


def mask_credentials(text: str, substitute: str = SUBSTITUTE) -> str:
    """`smtp://me:hunter2@mail/` -> `smtp://me:********@mail/`; `?token=abc` -> `?token=********`."""

    def userinfo(match) -> str:
        user, colon, _password = match["userinfo"].partition(":")
        return f"{match['scheme']}{user}:{substitute}@" if colon else f"{match['scheme']}{substitute}@"

    # Most text holds neither (source lines, names, messages): a substring test is ~100x cheaper
    # than an RE2 pass, and neither pattern can match without these characters.
    if "@" in text and "://" in text:
        text = _USERINFO.sub(userinfo, text)
    if "=" in text and any(word in text.lower() for word in _PARAM_WORDS):
        text = _SECRET_PARAM.sub(lambda m: m["name"] + substitute, text)
    return text
