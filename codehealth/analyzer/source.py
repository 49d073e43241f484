"""Analyse one Python source: parse once, scan the text once, then every metric from those.

radon's library API does cyclomatic complexity (`ComplexityVisitor.from_ast`), Halstead
(`h_visit_ast`) and the maintainability index (`mi_compute` with the same inputs `mi_visit`
gathers: Halstead volume, total complexity, LLOC and comment percentage counting multi-line
strings, as `radon mi` does by default), all on the one tree.
"""

import ast
import tokenize
from dataclasses import dataclass, field

from radon.complexity import cc_rank
from radon.metrics import h_visit_ast, mi_compute, mi_rank
from radon.visitors import ComplexityVisitor

from codehealth.analyzer.cognitive import cognitive_complexity, max_nesting
from codehealth.analyzer.imports import imports_of
from codehealth.analyzer.rawcounts import Comment, RawCounts, comments_of, raw_counts, tokens_of
from codehealth.analyzer.rawscan import fast_raw_counts
from codehealth.analyzer.tree import content_hash

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_BODIES = ("body", "orelse", "finalbody")


@dataclass(slots=True)
class Block:
    """A function, method or class with its metrics."""

    qualname: str
    name: str
    kind: str  # function | method | class
    line: int
    end_line: int
    complexity: int
    rank: str
    cognitive: int = 0
    max_nesting: int = 0
    parameters: int = 0
    methods: int = 0  # classes only

    @property
    def length(self) -> int:
        return self.end_line - self.line + 1


@dataclass(slots=True)
class FileReport:
    path: str
    content_hash: str
    error: str = ""  # set when the file could not be decoded or parsed
    raw: RawCounts | None = None
    complexity: int = 0  # radon's total complexity of the module (what MI uses)
    mi: float = 0.0
    mi_rank: str = ""
    halstead_volume: float = 0.0
    halstead_difficulty: float = 0.0
    halstead_effort: float = 0.0
    blocks: list[Block] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    findings: list = field(default_factory=list)  # debt.Finding, filled by debt.findings_for
    imports: list[str] = field(default_factory=list)  # dotted names, see analyzer/imports.py

    @property
    def functions(self) -> list[Block]:
        return [b for b in self.blocks if b.kind != "class"]


def decode(data: bytes) -> str:
    """Text as `open()` would give it: PEP 263 encoding, universal newlines."""
    encoding = "utf-8"
    if not data.startswith(b"\xef\xbb\xbf"):
        try:
            encoding, _ = tokenize.detect_encoding(iter(data.splitlines(keepends=True)[:2]).__next__)
        except SyntaxError:
            encoding = "utf-8"
    else:
        data = data[3:]
    text = data.decode(encoding)
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def analyze_source(path: str, data: bytes) -> FileReport:
    """Every metric of one file. Never raises for bad input: the error is in the report."""
    report = FileReport(path=path, content_hash=content_hash(data))
    try:
        source = decode(data)
        tree = ast.parse(source, filename=path)
        fast = fast_raw_counts(source)
        if fast is None:  # the tokenizer path: slower, handles whatever the regex scan declined
            tokens = tokens_of(source)
            fast = raw_counts(source, tokens), comments_of(tokens)
    except (SyntaxError, ValueError, UnicodeDecodeError, tokenize.TokenError, LookupError) as exc:
        report.error = f"{type(exc).__name__}: {exc}"
        return report
    except RecursionError:
        report.error = "RecursionError: the file nests too deeply to parse"
        return report
    report.raw, report.comments = fast
    visitor = ComplexityVisitor.from_ast(tree)
    halstead = h_visit_ast(tree).total
    report.complexity = visitor.total_complexity
    report.halstead_volume = halstead.volume
    report.halstead_difficulty = halstead.difficulty
    report.halstead_effort = halstead.effort
    raw = report.raw
    comment_share = (raw.comments + raw.multi) / float(raw.sloc) * 100 if raw.sloc else 0
    report.mi = mi_compute(halstead.volume, visitor.total_complexity, raw.lloc, comment_share)
    report.mi_rank = mi_rank(report.mi)
    report.blocks = blocks_of(tree, visitor)
    report.imports = imports_of(tree, path)
    return report


def _radon_blocks(visitor: ComplexityVisitor) -> dict[tuple[int, int], int]:
    """(line, column) -> radon complexity for every function, method, closure and class."""
    found: dict[tuple[int, int], int] = {}
    pending = list(visitor.blocks)
    while pending:
        block = pending.pop()
        found[(block.lineno, block.col_offset)] = block.complexity
        pending.extend(getattr(block, "closures", ()))
        for inner in getattr(block, "inner_classes", ()):
            pending.append(inner)
            pending.extend(inner.methods)
    return found


def blocks_of(tree: ast.Module, visitor: ComplexityVisitor) -> list[Block]:
    radon = _radon_blocks(visitor)
    blocks: list[Block] = []

    def walk(statements, prefix: str, in_class: bool) -> None:
        # Statements only: a def or class cannot hide inside an expression (lambdas are not blocks).
        for child in statements:
            if isinstance(child, _FUNCS):
                qualname = f"{prefix}{child.name}"
                cc = radon.get((child.lineno, child.col_offset))
                if cc is None:  # e.g. a def inside a class inside a function: radon drops those
                    cc = ComplexityVisitor.from_ast(ast.Module(body=[child], type_ignores=[])).functions[0].complexity
                blocks.append(
                    Block(
                        qualname=qualname,
                        name=child.name,
                        kind="method" if in_class else "function",
                        line=child.lineno,
                        end_line=child.end_lineno or child.lineno,
                        complexity=cc,
                        rank=cc_rank(cc),
                        cognitive=cognitive_complexity(child, qualname),
                        max_nesting=max_nesting(child),
                        parameters=parameter_count(child, in_class),
                    )
                )
                walk(child.body, f"{qualname}.", False)
            elif isinstance(child, ast.ClassDef):
                qualname = f"{prefix}{child.name}"
                cc = radon.get((child.lineno, child.col_offset))
                if cc is None:
                    cc = ComplexityVisitor.from_ast(ast.Module(body=[child], type_ignores=[])).classes[0].complexity
                blocks.append(
                    Block(
                        qualname=qualname,
                        name=child.name,
                        kind="class",
                        line=child.lineno,
                        end_line=child.end_lineno or child.lineno,
                        complexity=cc,
                        rank=cc_rank(cc),
                        methods=sum(1 for c in child.body if isinstance(c, _FUNCS)),
                    )
                )
                walk(child.body, f"{qualname}.", True)
            else:
                for part in _BODIES:
                    inner = getattr(child, part, None)
                    if inner:
                        walk(inner, prefix, in_class)
                for holder in getattr(child, "handlers", None) or getattr(child, "cases", None) or ():
                    walk(holder.body, prefix, in_class)

    walk(tree.body, "", False)
    return blocks


def parameter_count(func: ast.FunctionDef | ast.AsyncFunctionDef, is_method: bool) -> int:
    """All parameters, `*args` and `**kwargs` included; `self`/`cls` of a method excluded
    (it is not something a caller passes), unless the method is a staticmethod."""
    args = func.args
    count = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
    count += (args.vararg is not None) + (args.kwarg is not None)
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in func.decorator_list)
    if is_method and not static and (args.posonlyargs or args.args):
        count -= 1
    return count
