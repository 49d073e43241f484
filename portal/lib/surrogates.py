"""Lone surrogates out of decoded JSON.

Python's JSON decoder turns an escaped half of a UTF-16 pair ("\\ud800" alone) into a str that
is no Unicode text: encoding it to UTF-8 fails, so SQLite's and PostgreSQL's drivers (and
PostgreSQL's jsonb) refuse it. A payload is repaired once, where it is decoded: each lone
surrogate becomes U+FFFD, as a UTF-8 decoder does with a bad byte; whole pairs are kept.
"""

import re

# An escape of a surrogate code unit (U+D800-U+DFFF) in JSON text: only then can one appear.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def may_hold_surrogates(raw: bytes) -> bool:
    return _ESCAPED_SURROGATE.search(raw) is not None


def text_repaired(value: str) -> str:
    # Through UTF-16 with surrogatepass, a pair that is still two code units joins again and a lone
    # one decodes as one U+FFFD.
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def surrogates_replaced(value):
    """`value` (decoded JSON: dicts, lists, str, numbers) with every str repaired, keys included."""
    kind = type(value)
    if kind is str:
        return text_repaired(value)
    if kind is dict:
        return {text_repaired(k) if type(k) is str else k: surrogates_replaced(v) for k, v in value.items()}
    if kind is list:
        return [surrogates_replaced(item) for item in value]
    return value


def json_repaired(value, raw: bytes):
    """`value` decoded from `raw` JSON, repaired when the text could hold a lone surrogate."""
    return surrogates_replaced(value) if may_hold_surrogates(raw) else value
