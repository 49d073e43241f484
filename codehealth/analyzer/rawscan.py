"""A fast path for the raw counts: one regex pass instead of Python's pure-Python tokenizer.

radon's raw counts need, per logical line ("group"): its physical lines, how many comments it
has, whether it is a lone comment or a lone string, and, for LLOC, where the last `:` operator
is and whether anything follows it (radon's `_logical`). A regex that recognises strings,
comments, brackets, `:`, `;`, newlines and backslash continuations gives all of that; the code in
between only matters as "something is here". Anything unexpected (a quote, `#` or backslash the
regex did not consume, unbalanced brackets) returns None and the caller uses the tokenizer path.
Groups with `;` are handed to radon's own `_logical` on that group's tokens (rare). Equality with
`radon.raw.analyze` is checked on sample files by the tests and on whole trees by the benchmark.
"""

import re

from radon.raw import _generate, _logical

from codehealth.analyzer.rawcounts import _ODD_SEPARATORS, Comment, RawCounts

_SCAN = re.compile(
    r"""
    (?P<s>(?:(?<!\w)[rRbBuUfF]{1,2})?
        (?:'''(?:[^'\\]|\\.|'(?!''))*'''
          |\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
          |'(?:[^'\\\n]|\\.)*'
          |"(?:[^"\\\n]|\\.)*"))
    |(?P<c>\#[^\n]*)
    |(?P<o>[(\[{])
    |(?P<x>[)\]}])
    |(?P<k>:(?!=))
    |(?P<m>;)
    |(?P<n>\n)
    |(?P<b>\\\n)
    """,
    re.VERBOSE | re.DOTALL,
)
_SUSPECT = re.compile(r"['\"#\\]")


class _Unexpected(Exception):
    pass


def fast_raw_counts(source: str) -> tuple[RawCounts, list[Comment]] | None:
    if not _ODD_SEPARATORS.isdisjoint(source):
        return None  # line numbering differs between splitlines() and "\n"; let radon decide
    try:
        return _scan(source)
    except _Unexpected:
        return None


def _scan(source: str) -> tuple[RawCounts, list[Comment]]:
    lines = source.splitlines()
    comments: list[Comment] = []
    lloc = n_comments = single_comments = multi = blank = sloc = 0
    line = 1  # current physical line
    start = 1  # first line of the current group
    depth = 0
    # state of the current group
    tokens = 0  # tokens other than comments
    first = ""  # kind of the first token: "s" string, "c" comment, "o" other
    group_comments = 0
    colon = False  # a ':' operator was seen
    after_colon = False  # a token followed the last ':'
    semicolon = False
    pos = 0

    def code_seen():
        nonlocal tokens, first, after_colon
        tokens += 1
        if not first:
            first = "o"
        after_colon = True

    def close(end: int) -> None:
        nonlocal lloc, single_comments, multi, blank, sloc, tokens, first, group_comments, colon
        nonlocal after_colon, semicolon, start
        parsed = [text.strip() for text in lines[start - 1 : end]]
        filled = sum(1 for text in parsed if text)
        if first == "c" and tokens == 0 and group_comments == 1:
            single_comments += 1
        elif first == "s" and tokens == 1 and group_comments == 0:
            if len(parsed) == 1:
                single_comments += 1
            else:
                multi += filled
                blank += len(parsed) - filled
        else:
            sloc += filled
            blank += len(parsed) - filled
        if semicolon:
            lloc += _logical(_generate("\n".join(parsed)))
        elif tokens:
            lloc += 2 if colon and after_colon else 1
        tokens = group_comments = 0
        first = ""
        colon = after_colon = semicolon = False
        start = end + 1

    for match in _SCAN.finditer(source):
        gap = source[pos : match.start()]
        pos = match.end()
        if gap and not gap.isspace():
            if _SUSPECT.search(gap):
                raise _Unexpected
            code_seen()
        kind = match.lastgroup
        if kind == "n":
            if depth == 0:
                close(line)
            line += 1
        elif kind == "c":
            group_comments += 1
            n_comments += 1
            comments.append(Comment(line, match.group()))
            if not first:
                first = "c"
        elif kind == "s":
            code_seen()
            if first == "o" and tokens == 1:
                first = "s"
            line += match.group().count("\n")
        elif kind == "b":
            line += 1
        else:
            code_seen()
            if kind == "o":
                depth += 1
            elif kind == "x":
                depth -= 1
                if depth < 0:
                    raise _Unexpected
            elif kind == "k":
                colon, after_colon = True, False
            elif kind == "m":
                semicolon = True
    tail = source[pos:]
    if tail and not tail.isspace():
        if _SUSPECT.search(tail):
            raise _Unexpected
        code_seen()
    if depth:
        raise _Unexpected
    if start <= len(lines):
        close(len(lines))
    loc = sloc + blank + multi + single_comments
    return RawCounts(loc, lloc, sloc, n_comments, multi, blank, single_comments), comments
