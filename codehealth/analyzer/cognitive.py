"""Cognitive complexity (SonarSource white paper, as SonarQube's Python analyzer applies it)
and maximum nesting depth, on the already-parsed `ast`.

Rules implemented (each has a test in tests/codehealth/test_cognitive.py):
- +1 plus the current nesting level for `if`, conditional expressions, `for`/`while`
  (and async forms), `except` clauses and `match`.
- +1 without nesting increment for `elif` and for every `else` (of `if`, loops and `try`).
- `try`/`finally`/`with`/`case` add nothing themselves; their bodies are not nested deeper by
  `try`, but are by the `except` that holds them.
- +1 per sequence of like boolean operators: `a and b and c` is +1, `a and b or c` is +2.
- +1 for each `if` clause of a comprehension, without nesting increment (a filter is a branch;
  the comprehension's `for` is a mapping, not a break in linear flow).
- Nested functions and lambdas add their own increments to the enclosing function, one nesting
  level deeper; the function of a decorator idiom (a body of only defs and a return) does not
  raise the nesting of its inner function.
- A class resets nesting: methods of a class nested in a function start at 0 and are not
  counted in the enclosing function.
- +1 for a function that calls itself (recursion), once per function.
- `break`/`continue` add nothing: Python has no labelled jumps.

Maximum nesting depth counts nested blocks (`if`, loops, `try`, `with`, `match`) in a function,
not counting the bodies of nested functions and classes (they are measured on their own).
"""

import ast

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
# The most frequent nodes, which can hold nothing that counts: skipped without a walk.
_LEAVES = frozenset({ast.Name, ast.Constant, ast.Load, ast.Store, ast.Del, ast.Pass, ast.Break, ast.Continue})
_BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.TryStar, ast.With, ast.AsyncWith, ast.Match)


def is_decorator_idiom(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A function whose body only defines inner functions and returns (docstring allowed)."""
    has_def = False
    for stmt in func.body:
        if isinstance(stmt, _FUNCS):
            has_def = True
        elif not isinstance(stmt, ast.Return) and not (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        ):
            return False
    return has_def


class _Cognitive:
    def __init__(self, func: ast.FunctionDef | ast.AsyncFunctionDef, qualname: str):
        self.func = func
        self.names = {func.name, qualname.rsplit(".", 1)[-1]}
        self.total = 0
        self.recursive = False

    def run(self) -> int:
        self.body(self.func.body, 0, flat_defs=is_decorator_idiom(self.func))
        return self.total + (1 if self.recursive else 0)

    def body(self, statements, nesting: int, flat_defs: bool = False) -> None:
        for stmt in statements:
            self.stmt(stmt, nesting, flat_defs)

    def stmt(self, node, nesting: int, flat_defs: bool = False) -> None:
        if isinstance(node, ast.If):
            self.total += 1 + nesting
            self.if_chain(node, nesting)
        elif isinstance(node, _LOOPS):
            self.total += 1 + nesting
            self.expr(node.iter if not isinstance(node, ast.While) else node.test, nesting)
            self.body(node.body, nesting + 1)
            if node.orelse:
                self.total += 1
                self.body(node.orelse, nesting + 1)
        elif isinstance(node, ast.Try | ast.TryStar):
            self.body(node.body, nesting)
            for handler in node.handlers:
                self.total += 1 + nesting
                self.body(handler.body, nesting + 1)
            if node.orelse:
                self.total += 1
                self.body(node.orelse, nesting + 1)
            self.body(node.finalbody, nesting)
        elif isinstance(node, ast.Match):
            self.total += 1 + nesting
            self.expr(node.subject, nesting)
            for case in node.cases:
                if case.guard is not None:
                    self.expr(case.guard, nesting + 1)
                self.body(case.body, nesting + 1)
        elif isinstance(node, _FUNCS):
            for deco in node.decorator_list:
                self.expr(deco, nesting)
            inner = nesting if flat_defs else nesting + 1
            self.body(node.body, inner, flat_defs=is_decorator_idiom(node))
        elif isinstance(node, ast.ClassDef):
            return  # a class resets nesting; its methods are measured on their own
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                self.expr(item.context_expr, nesting)
            self.body(node.body, nesting)
        else:
            self.expr(node, nesting)

    def if_chain(self, node: ast.If, nesting: int) -> None:
        self.expr(node.test, nesting)
        self.body(node.body, nesting + 1)
        orelse = node.orelse
        if len(orelse) == 1 and isinstance(orelse[0], ast.If) and _is_elif(node, orelse[0]):
            self.total += 1  # elif: hybrid increment, no nesting increment
            self.if_chain(orelse[0], nesting)
        elif orelse:
            self.total += 1  # else
            self.body(orelse, nesting + 1)

    def expr(self, node, nesting: int, parent_op=None) -> None:
        """Walk an expression (or a simple statement) for conditions, booleans, lambdas, calls."""
        if type(node) in _LEAVES:
            return
        if isinstance(node, ast.BoolOp):
            if type(node.op) is not parent_op:
                self.total += 1
            for value in node.values:
                self.expr(value, nesting, type(node.op))
            return
        if isinstance(node, ast.IfExp):
            self.total += 1 + nesting
            for child in (node.test, node.body, node.orelse):
                self.expr(child, nesting + 1)
            return
        if isinstance(node, ast.Lambda):
            self.expr(node.body, nesting + 1)
            return
        if isinstance(node, ast.comprehension):
            self.total += len(node.ifs)
        elif isinstance(node, ast.Call) and self.is_self_call(node.func):
            self.recursive = True
        elif isinstance(node, (*_FUNCS, ast.ClassDef)):
            self.stmt(node, nesting)
            return
        # ast.iter_child_nodes, inlined: this loop runs for most nodes of every function.
        for name in node._fields:
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST) and type(item) not in _LEAVES:
                        self.expr(item, nesting)
            elif isinstance(value, ast.AST) and type(value) not in _LEAVES:
                self.expr(value, nesting)

    def is_self_call(self, func) -> bool:
        if isinstance(func, ast.Name):
            return func.id == self.func.name
        return (
            isinstance(func, ast.Attribute)
            and func.attr == self.func.name
            and isinstance(func.value, ast.Name)
            and func.value.id in ("self", "cls")
        )


def _is_elif(parent: ast.If, child: ast.If) -> bool:
    """`else: if ...` and `elif ...` give the same AST; `elif` starts with the `elif` keyword,
    which puts the child's `if` on a line of its own only in the `else:` form. Without the
    source we tell them apart by column: an `elif` test sits at the parent's column."""
    return child.col_offset == parent.col_offset


def cognitive_complexity(func: ast.FunctionDef | ast.AsyncFunctionDef, qualname: str = "") -> int:
    return _Cognitive(func, qualname or func.name).run()


def max_nesting(func: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Deepest block nesting inside `func`, elif chains counting as one level."""

    def depth(statements, level: int) -> int:
        deepest = level
        for stmt in statements:
            if isinstance(stmt, (*_FUNCS, ast.ClassDef)):
                continue
            if isinstance(stmt, _BLOCKS):
                deepest = max(deepest, block(stmt, level + 1))
        return deepest

    def block(node, level: int) -> int:
        deepest = level
        if isinstance(node, ast.If):
            deepest = max(deepest, depth(node.body, level))
            orelse = node.orelse
            if len(orelse) == 1 and isinstance(orelse[0], ast.If) and _is_elif(node, orelse[0]):
                return max(deepest, block(orelse[0], level))
            return max(deepest, depth(orelse, level))
        if isinstance(node, ast.Match):
            return max([deepest, *(depth(case.body, level) for case in node.cases)])
        parts = [getattr(node, "body", []), getattr(node, "orelse", []), getattr(node, "finalbody", [])]
        parts.extend(handler.body for handler in getattr(node, "handlers", []))
        return max([deepest, *(depth(part, level) for part in parts)])

    return depth(func.body, 0)
