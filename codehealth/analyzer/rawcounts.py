"""Raw line counts equal to `radon.raw.analyze`, from ONE tokenize pass.

radon's `analyze` re-tokenizes a growing buffer line by line until it tokenizes cleanly (a
"group"), which is quadratic on long statements and was 2/3 of the scan time on Django's
source. A group is exactly a logical line of the whole-file tokenization (ended by NEWLINE, or
by NL outside brackets for blank and comment-only lines), so we cut the single token stream at
those points and feed each group to radon's own classification helpers (`_logical`,
`is_single_token`). The same token stream gives the comments the debt markers are read from.

Sources with line separators that `str.splitlines` and the tokenizer disagree on (form feed,
vertical tab, Unicode separators), and sources where a backslash continuation runs into a blank
line (radon then glues lines into a group until its tokenizer stops complaining, which no
logical-line rule reproduces), go through `radon.raw.analyze` itself, so results stay equal.
"""

import io
import re
import tokenize
from dataclasses import dataclass

from radon.raw import _logical, analyze, is_single_token

# str.splitlines() splits on these, the tokenizer does not: the line numbers would disagree.
_ODD_SEPARATORS = frozenset("\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\r")
_SKIPPED = {tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
_OPENERS = {"(", "[", "{"}
_CLOSERS = {")", "]", "}"}
_ENDMARKER = (tokenize.ENDMARKER, "")
_BACKSLASH_THEN_BLANK = re.compile(r"\\\n[ \t]*(?:\n|$)")


def radon_only(source: str) -> bool:
    """Sources whose counts only `radon.raw.analyze` itself gets right (rare: see the module doc)."""
    return not _ODD_SEPARATORS.isdisjoint(source) or ("\\\n" in source and bool(_BACKSLASH_THEN_BLANK.search(source)))


@dataclass(frozen=True, slots=True)
class RawCounts:
    loc: int
    lloc: int
    sloc: int
    comments: int
    multi: int
    blank: int
    single_comments: int


@dataclass(frozen=True, slots=True)
class Comment:
    line: int
    text: str  # the comment including its leading '#'


def tokens_of(source: str) -> list[tokenize.TokenInfo]:
    """All tokens of a source (raises tokenize.TokenError / SyntaxError on broken input)."""
    return list(tokenize.generate_tokens(io.StringIO(source).readline))


def comments_of(tokens: list[tokenize.TokenInfo]) -> list[Comment]:
    return [Comment(t.start[0], t.string) for t in tokens if t.type == tokenize.COMMENT]


def raw_counts(source: str, tokens: list[tokenize.TokenInfo]) -> RawCounts:
    """The counts `radon.raw.analyze(source)` returns, computed from `tokens` of `source`."""
    if radon_only(source) or any(t.type == tokenize.ERRORTOKEN for t in tokens):
        counts = _radon(source)
        if counts is not None:
            return counts
    lines = source.splitlines()
    lloc = comments = single_comments = multi = blank = sloc = 0
    group: list[tuple[int, str]] = []
    start_row = last_row = 0
    depth = 0
    for tok in tokens:
        kind = tok.type
        if kind in _SKIPPED:
            continue
        if not group:
            start_row = tok.start[0]
        group.append((kind, tok.string))
        if kind == tokenize.OP:
            if tok.string in _OPENERS:
                depth += 1
            elif tok.string in _CLOSERS:
                depth -= 1
            continue
        if kind == tokenize.COMMENT:
            comments += 1
            continue
        if kind != tokenize.NEWLINE and not (kind == tokenize.NL and depth == 0):
            continue
        # End of a group: classify it the way radon.raw.analyze does.
        group.append(_ENDMARKER)
        parsed = [line.strip() for line in lines[start_row - 1 : tok.end[0]]]
        if is_single_token(tokenize.COMMENT, group):
            single_comments += 1
        elif is_single_token(tokenize.STRING, group):
            if len(parsed) == 1:
                single_comments += 1
            else:
                filled = sum(1 for line in parsed if line)
                multi += filled
                blank += len(parsed) - filled
        else:
            filled = sum(1 for line in parsed if line)
            sloc += filled
            blank += len(parsed) - filled
        lloc += _logical(group)
        group = []
        last_row = tok.end[0]
    # A whitespace-only last line without "\n" gets no token, but splitlines() (radon) sees it.
    tail = lines[last_row:]
    if any(line.strip() for line in tail):
        counts = _radon(source)
        if counts is not None:
            return counts
    filled = sum(1 for line in tail if line.strip())
    sloc += filled
    blank += len(tail) - filled
    loc = sloc + blank + multi + single_comments
    return RawCounts(loc, lloc, sloc, comments, multi, blank, single_comments)


def _radon(source: str) -> RawCounts | None:
    """radon's own counts, or None where radon gives up on code Python accepts (e.g. a
    backslash continuation followed by a blank line): then our count of the same rules stands."""
    try:
        return RawCounts(*analyze(source)[:7])
    except SyntaxError:
        return None
