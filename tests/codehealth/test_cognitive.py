"""Cognitive complexity on hand-written cases, one rule each (the expected values are worked
out in the comments, following the SonarSource white paper)."""

import ast
import textwrap

import pytest

from codehealth.analyzer.cognitive import cognitive_complexity, max_nesting


def cc(source: str, name: str | None = None) -> int:
    tree = ast.parse(textwrap.dedent(source))
    funcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    func = next(f for f in funcs if name is None or f.name == name)
    return cognitive_complexity(func)


CASES = {
    "straight_line": (
        """
        def f(a):
            b = a + 1
            return b
        """,
        0,
    ),
    "if_elif_else": (
        """
        def f(a):
            if a > 1:      # +1
                return 1
            elif a > 0:    # +1 (no nesting increment)
                return 2
            else:          # +1
                return 3
        """,
        3,
    ),
    "else_if_is_nested_not_elif": (
        """
        def f(a, b):
            if a:          # +1
                pass
            else:          # +1
                if b:      # +2 (nesting 1)
                    pass
        """,
        4,
    ),
    "nested_loops_and_ifs": (
        """
        def f(xs):
            for x in xs:          # +1
                if x:             # +2
                    while x:      # +3
                        x -= 1
        """,
        6,
    ),
    "loop_else": (
        """
        def f(xs):
            for x in xs:   # +1
                pass
            else:          # +1
                pass
        """,
        2,
    ),
    "try_except_else_finally": (
        """
        def f(x):
            try:
                if x:              # +1 (try does not nest)
                    g()
            except ValueError:     # +1
                if x:              # +2 (nested in except)
                    pass
            except KeyError:       # +1
                pass
            else:                  # +1
                pass
            finally:               # +0
                pass
        """,
        6,
    ),
    "boolean_sequences": (
        """
        def f(a, b, c, d):
            if a and b or c:        # +1 if, +1 and, +1 or
                pass
            x = a and b and c       # +1 (one sequence)
            y = a or b and c or d   # +1 or-sequence, +1 and
            return not (a and b)    # +1
        """,
        7,
    ),
    "ternary_nests": (
        """
        def f(a, b):
            if a:                          # +1
                return 1 if b else 2       # +2 (nesting 1)
            return 3 if a else 4           # +1
        """,
        4,
    ),
    "nested_function_adds_with_nesting": (
        """
        def outer(x):
            def inner(y):
                if y:          # +2 (nesting 1: inside a nested function)
                    return 1
            if x:              # +1
                return inner(x)
        """,
        3,
    ),
    "lambda_nests": (
        """
        def f(items):
            return sorted(items, key=lambda v: v if v else 0)   # +2 (ternary inside a lambda)
        """,
        2,
    ),
    "decorator_idiom_does_not_nest": (
        """
        def deco(fn):
            def wrapper(*a):
                if a:          # +1 (decorator pattern: no nesting increment)
                    return fn(*a)
            return wrapper
        """,
        1,
    ),
    "class_resets_nesting": (
        """
        def factory(flag):
            if flag:                       # +1
                class Local:
                    def method(self, v):   # measured on its own
                        if v:
                            return 1
                return Local
        """,
        1,
    ),
    "recursion": (
        """
        def fact(n):
            if n <= 1:                 # +1
                return 1
            return n * fact(n - 1)     # +1 (recursion, once per function)
        """,
        2,
    ),
    "break_continue_add_nothing": (
        """
        def f(xs):
            for x in xs:       # +1
                if x:          # +2
                    break
                continue
        """,
        3,
    ),
    "match_counts_once": (
        """
        def f(c):
            match c:           # +1
                case 1:
                    if c:      # +2
                        pass
                case _:
                    pass
        """,
        3,
    ),
    "with_does_not_nest": (
        """
        def f(a, b):
            with a:
                if b:          # +1
                    pass
        """,
        1,
    ),
    "comprehension_filter": (
        """
        def f(xs):
            return [x for x in xs if x]   # +1
        """,
        1,
    ),
    "decorators_are_plain_expressions": (
        """
        @cache(maxsize=1 if DEBUG else 2)   # a decorator expression is outside the function
        def f(a):
            return a
        """,
        0,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_cognitive_complexity_rules(case):
    source, expected = CASES[case]
    assert cc(source) == expected


def test_method_recursion_through_self():
    source = """
    class Tree:
        def walk(self, node):
            for child in node:       # +1
                self.walk(child)     # +1 recursion
    """
    assert cc(source, "walk") == 2


def test_inner_function_measured_alone_starts_at_zero_nesting():
    source = CASES["nested_function_adds_with_nesting"][0]
    assert cc(source, "inner") == 1


def test_method_of_class_in_function_is_measured_alone():
    source = CASES["class_resets_nesting"][0]
    assert cc(source, "method") == 1


def test_max_nesting_counts_blocks_and_elif_chains_once():
    tree = ast.parse(
        textwrap.dedent(
            """
            def f(xs):
                for x in xs:
                    if x:
                        while x:
                            x -= 1
                    elif x is None:
                        pass
                    elif x == 0:
                        with open(x) as fh:
                            try:
                                pass
                            except OSError:
                                pass
                def inner():
                    if 1:
                        if 2:
                            if 3:
                                if 4:
                                    pass
            """
        )
    )
    assert max_nesting(tree.body[0]) == 4  # for > elif > with > try/except; inner() not counted
