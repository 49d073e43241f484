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

from codehealth.analyzer.rawcounts import Comment, RawCounts, radon_only

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
_NONSPACE = re.compile(r"\S")


class _Unexpected(Exception):
    pass


def fast_raw_counts(source: str) -> tuple[RawCounts, list[Comment]] | None:
    if radon_only(source):
        return None
    try:
        return _scan(source)
    except _Unexpected:
        return None


def _scan(source: str) -> tuple[RawCounts, list[Comment]]:
    lines = source.splitlines()
    comments: list[Comment] = []
    counts = [0, 0, 0, 0, 0]  # lloc, single_comments, multi, blank, sloc
    n_comments = 0
    line = 1  # current physical line
    depth = 0
    # the current group: first line, tokens other than comments, kind of the first token
    # ("s" string, "c" comment, "o" other), comments, ':' seen, a token after the last ':', ';' seen
    group = _Group(1)
    pos = 0
    nonspace, suspect = _NONSPACE.search, _SUSPECT.search
    for match in _SCAN.finditer(source):
        begin = match.start()
        if begin > pos and nonspace(source, pos, begin):
            if suspect(source, pos, begin):
                raise _Unexpected
            group.code()
        pos = match.end()
        kind = match.lastgroup
        if kind == "n":
            if depth == 0:
                group.close(lines, line, counts)
                group = _Group(line + 1)
            line += 1
        elif kind == "o":
            group.code()
            depth += 1
        elif kind == "x":
            group.code()
            depth -= 1
            if depth < 0:
                raise _Unexpected
        elif kind == "s":
            group.code()
            if group.first == "o" and group.tokens == 1:
                group.first = "s"
            line += match.group().count("\n")
        elif kind == "k":
            group.tokens += 1
            group.first = group.first or "o"
            group.colon, group.after_colon = True, False
        elif kind == "c":
            group.comments += 1
            n_comments += 1
            comments.append(Comment(line, match.group()))
            group.first = group.first or "c"
        elif kind == "m":
            group.code()
            group.semicolon = True
        else:  # "b": backslash continuation
            line += 1
    if pos < len(source) and nonspace(source, pos):
        if suspect(source, pos):
            raise _Unexpected
        group.code()
    if depth:
        raise _Unexpected
    if group.start <= len(lines):
        group.close(lines, len(lines), counts)
    lloc, single_comments, multi, blank, sloc = counts
    loc = sloc + blank + multi + single_comments
    return RawCounts(loc, lloc, sloc, n_comments, multi, blank, single_comments), comments


class _Group:
    """One logical line being scanned, classified the way `radon.raw.analyze` does on close."""

    __slots__ = ("after_colon", "colon", "comments", "first", "semicolon", "start", "tokens")

    def __init__(self, start: int):
        self.start = start
        self.tokens = self.comments = 0
        self.first = ""
        self.colon = self.after_colon = self.semicolon = False

    def code(self) -> None:
        self.tokens += 1
        if not self.first:
            self.first = "o"
        self.after_colon = True

    def close(self, lines: list[str], end: int, counts: list[int]) -> None:
        if end == self.start:  # most groups are one line
            parsed = [lines[end - 1].strip()] if end <= len(lines) else []
        else:
            parsed = [text.strip() for text in lines[self.start - 1 : end]]
        filled = sum(1 for text in parsed if text)
        if self.first == "c" and self.tokens == 0 and self.comments == 1:
            counts[1] += 1
        elif self.first == "s" and self.tokens == 1 and self.comments == 0:
            if len(parsed) == 1:
                counts[1] += 1
            else:
                counts[2] += filled
                counts[3] += len(parsed) - filled
        else:
            counts[4] += filled
            counts[3] += len(parsed) - filled
        if self.semicolon:
            counts[0] += _logical(_generate("\n".join(parsed)))
        elif self.tokens:
            counts[0] += 2 if self.colon and self.after_colon else 1
