"""Secrets out of an error event before it is stored. Framework-free.

Anything stored is shown to every viewer, so the scrubber errs on the side of masking:
- any key named like a secret, at any depth of any part of the event (request data, headers,
  frame vars, extra, contexts, tags, breadcrumbs): password/passwd/pwd, token, secret,
  api_key/apikey, auth (not "author"), credential, session, csrf/xsrf, cookie, authorization,
  private key, signature;
- all cookie values (names are kept: they help debugging and are rarely secret);
- query strings (as text, pairs or a dict): the values of such parameters;
- every string: URL userinfo (`https://user:pw@host`) and secret query parameters inside it
  (portal.lib.masking, shared with the portal's own error reports).
Masked values keep their key and are replaced with SUBSTITUTE, so people see that something was there.
"""

from urllib.parse import unquote_plus

from portal.lib.masking import SUBSTITUTE, mask_credentials

_SECRET_WORDS = (
    "password",
    "passwd",
    "pwd",
    "token",
    "secret",
    "apikey",
    "credential",
    "session",
    "csrf",
    "xsrf",
    "cookie",
    "authorization",
    "privatekey",
    "signature",
)
MAX_DEPTH = 12  # deeper values are replaced (the store also bounds the sizes)
TOO_DEEP = "[too deep]"


def _tokens(key: str) -> list[str]:
    """'X-Api_Key', 'basicAuth' -> ['x', 'api', 'key'], ['basic', 'auth']."""
    spaced = []
    for i, char in enumerate(key):
        if char.isupper() and i and key[i - 1].islower():
            spaced.append(" ")
        spaced.append(char.lower() if char.isalnum() else " ")
    return "".join(spaced).split()


def is_secret_key(key) -> bool:
    """Whether a value stored under this key (or parameter/header name) is masked."""
    if not isinstance(key, str) or not key:
        return False
    tokens = _tokens(key)
    compact = "".join(tokens)
    if any(word in compact for word in _SECRET_WORDS):
        return True
    return any(token.startswith("auth") and not token.startswith("author") for token in tokens)


def _masked(value):
    return SUBSTITUTE if value not in (None, "", [], {}) else value


def scrub_query_string(text: str) -> str:
    """'a=1&token=abc' -> 'a=1&token=********'; URLs inside values also lose their credentials."""
    pieces = []
    for piece in text.split("&"):
        name, equals, value = piece.partition("=")
        if equals and is_secret_key(unquote_plus(name)):
            value = SUBSTITUTE
        pieces.append(f"{name}{equals}{value}")
    return mask_credentials("&".join(pieces))


def scrub_value(value, depth: int = 0):
    """A copy of `value` with secret-named keys masked and credentials masked inside strings."""
    if isinstance(value, str):
        return mask_credentials(value)
    if depth >= MAX_DEPTH:
        return TOO_DEEP if isinstance(value, dict | list | tuple) else value
    if isinstance(value, dict):
        return {
            key: _masked(item) if is_secret_key(key) else scrub_value(item, depth + 1) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub_item(item, depth + 1) for item in value]
    return value


def _scrub_item(item, depth: int):
    # Headers, tags and query strings also come as [name, value] pairs.
    if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str) and is_secret_key(item[0]):
        return [item[0], _masked(item[1])]
    return scrub_value(item, depth)


def _scrub_request(request: dict) -> dict:
    cookies = request.get("cookies")
    # "cookies" is itself a secret-looking key; done here so the names stay readable.
    request = scrub_value({key: value for key, value in request.items() if key != "cookies"})
    if isinstance(cookies, dict):
        request["cookies"] = {name: _masked(value) for name, value in cookies.items()}
    elif isinstance(cookies, list):
        request["cookies"] = [
            [pair[0], _masked(pair[1])] if isinstance(pair, list | tuple) and len(pair) == 2 else SUBSTITUTE
            for pair in cookies
        ]
    elif cookies:
        request["cookies"] = SUBSTITUTE  # a raw Cookie header string
    query = request.get("query_string")
    if isinstance(query, str):
        request["query_string"] = scrub_query_string(query)
    data = request.get("data")
    if isinstance(data, str) and "=" in data and "{" not in data[:1]:
        request["data"] = scrub_query_string(data)  # a form body
    return request


def scrub_event(event: dict) -> dict:
    """A scrubbed copy of a Sentry-format event (the input is not changed)."""
    scrubbed = {}
    for key, value in event.items():
        if key == "request" and isinstance(value, dict):
            scrubbed[key] = _scrub_request(value)
        elif is_secret_key(key):
            scrubbed[key] = _masked(value)
        else:
            scrubbed[key] = scrub_value(value)
    return scrubbed
