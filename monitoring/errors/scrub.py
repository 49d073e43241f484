"""Secrets out of an error event before it is stored. Framework-free.

Anything stored is shown to every viewer, so the scrubber errs on the side of masking:
- any key named like a secret, at any depth of any part of the event (request data, headers,
  frame vars, extra, contexts, tags, breadcrumbs): password/passwd/pwd, token, secret,
  api_key/apikey, auth (not "author"), credential, session, csrf/xsrf, cookie, authorization,
  private key, signature;
- all cookie values (names are kept: they help debugging and are rarely secret);
- query strings (as text, pairs or a dict): the values of such parameters, also where a bare
  query string is held under a key like QUERY_STRING, REQUEST_URI or query_string (a frame's
  WSGI environ);
- every string: URL userinfo (`https://user:pw@host`) and secret query parameters inside it
  (portal.lib.masking, shared with the portal's own error reports).
Masked values keep their key and are replaced with SUBSTITUTE, so people see that something was there.

Source context lines (pre_context/context_line/post_context) are code, not runtime data, and
Sentry leaves them alone; here they go through the same string pass anyway: a credential written
into the code (a DSN, a URL with a password) would otherwise be shown to every viewer, who may not
have access to the repository. It costs little: masking.mask_credentials only runs RE2 on text
holding "@" and "://" or "=", and key names are classified once per process (lru_cache), so a
30-frame event is prepared in well under a millisecond (bench/error_ingest.py prints the figure).
"""

from functools import lru_cache
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


# Keys whose string value is a query string, perhaps after a path ("/checkout?token=…").
_QUERY_KEYS = frozenset({"querystring", "requesturi", "rawuri"})


def is_secret_key(key) -> bool:
    """Whether a value stored under this key (or parameter/header name) is masked."""
    if not isinstance(key, str) or not key:
        return False
    return is_secret_name(key)


# Events repeat the same few hundred key names (frame fields, headers, variables): classified once.
@lru_cache(maxsize=4096)
def is_secret_name(key: str) -> bool:
    """is_secret_key for a non-empty string, cached (the hot path of the scrubbing)."""
    tokens = _tokens(key)
    compact = "".join(tokens)
    if any(word in compact for word in _SECRET_WORDS):
        return True
    return any(token.startswith("auth") and not token.startswith("author") for token in tokens)


def masked(value):
    """SUBSTITUTE for a value that holds something; an empty one is shown as it is."""
    return SUBSTITUTE if value not in (None, "", [], {}) else value


@lru_cache(maxsize=1024)
def is_query_key(key: str) -> bool:
    """Whether a string under this key is a query string (QUERY_STRING, REQUEST_URI, …)."""
    return "".join(_tokens(key)) in _QUERY_KEYS


SECRET_KEY, QUERY_KEY = 1, 2


@lru_cache(maxsize=4096)
def key_kind(key: str) -> int:
    """What a non-empty key says of its value: SECRET_KEY (masked), QUERY_KEY (a query string) or
    0. One cached look-up where a dict's value needs both tests."""
    return SECRET_KEY if is_secret_name(key) else QUERY_KEY if is_query_key(key) else 0


def scrub_query_value(text: str) -> str:
    """A query string with or without the path before it: '/a?token=x' and 'token=x' both masked."""
    path, question, query = text.rpartition("?") if "?" in text else ("", "", text)
    return path + question + scrub_query_string(query) if "=" in query else mask_credentials(text)


def scrub_query_string(text: str) -> str:
    """'a=1&token=abc' -> 'a=1&token=********'; URLs inside values also lose their credentials."""
    pieces = []
    for piece in text.split("&"):
        name, equals, value = piece.partition("=")
        if equals and is_secret_key(unquote_plus(name)):
            value = SUBSTITUTE
        pieces.append(f"{name}{equals}{value}")
    return mask_credentials("&".join(pieces))


_PLAIN = frozenset({int, float, bool, type(None)})


def _may_hold_secret_param(lower: str) -> bool:
    # masking._PARAM_WORDS written out: one `in` test each is ~10x cheaper than any() over a
    # generator, and this runs for every string holding "=" (most source lines). A test holds the
    # two lists equal.
    return (
        "pass" in lower
        or "pwd" in lower
        or "token" in lower
        or "key" in lower
        or "secret" in lower
        or "sig" in lower
        or "auth" in lower
        or "credential" in lower
        or "session" in lower
        or "csrf" in lower
    )


def may_hold_credentials(text: str) -> bool:
    """Whether mask_credentials could change `text` (it may still leave it as it is). Also true
    for several strings joined with newlines when it is true of one of them, which lets a frame's
    ~17 strings be tested at once."""
    return ("=" in text and _may_hold_secret_param(text.lower())) or ("@" in text and "://" in text)


def any_may_hold_credentials(texts: list[str]) -> bool:
    """Whether may_hold_credentials is true of one of `texts` (true at times when it is of none).

    For a frame's ~17 strings at once: the secret words are looked for only in the strings that
    hold "=" (in source code, one or two lines), which costs a fifth of looking through all of them
    joined, as may_hold_credentials would."""
    joined = "\n".join(texts)
    if "@" in joined and "://" in joined:
        return True
    if "=" not in joined:
        return False
    return _may_hold_secret_param("\n".join([text for text in texts if "=" in text]).lower())


def scrub_text(text: str) -> str:
    """`text` with URL credentials and secret query parameters masked (mask_credentials), called
    only when one of its patterns could match: most strings of an event skip it."""
    if ("=" in text and _may_hold_secret_param(text.lower())) or ("@" in text and "://" in text):
        return mask_credentials(text)
    return text


def scrub_value(value, depth: int = 0):
    """A copy of `value` with secret-named keys masked and credentials masked inside strings.

    Written for speed (a 30-frame event holds ~600 strings): exact type tests first, strings
    handled inline, key names classified through a cache."""
    kind = type(value)
    if kind is str:
        return scrub_text(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, str):
        return mask_credentials(value)
    if depth >= MAX_DEPTH:
        return TOO_DEEP if isinstance(value, dict | list | tuple) else value
    depth += 1
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            named = isinstance(key, str) and key
            if named and is_secret_name(key):
                out[key] = masked(item)  # the key decides: the value is not looked at
            elif type(item) is str:
                out[key] = scrub_query_value(item) if named and is_query_key(key) else scrub_text(item)
            elif type(item) in _PLAIN:
                out[key] = item
            else:
                out[key] = scrub_value(item, depth)
        return out
    if isinstance(value, list | tuple):
        return [scrub_text(item) if type(item) is str else _scrub_item(item, depth) for item in value]
    return value


def _scrub_item(item, depth: int):
    # Headers, tags and query strings also come as [name, value] pairs.
    if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str) and is_secret_key(item[0]):
        return [item[0], masked(item[1])]
    return scrub_value(item, depth)


def _scrub_request(request: dict) -> dict:
    cookies = request.get("cookies")
    # "cookies" is itself a secret-looking key; done here so the names stay readable.
    request = scrub_value({key: value for key, value in request.items() if key != "cookies"})
    if isinstance(cookies, dict):
        request["cookies"] = {name: masked(value) for name, value in cookies.items()}
    elif isinstance(cookies, list):
        request["cookies"] = [
            [pair[0], masked(pair[1])] if isinstance(pair, list | tuple) and len(pair) == 2 else SUBSTITUTE
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
            scrubbed[key] = masked(value)
        else:
            scrubbed[key] = scrub_value(value)
    return scrubbed
