"""Source samples the analyzer tests share (kept as strings so no tool lints or imports them)."""

BRANCHY = '''
"""A module docstring
spanning lines."""
import os  # a comment


def simple(a, b):
    return a + b


def branchy(x, y, *args, flag=False, **kw):
    # TODO: split this up
    if x and y or flag:
        for i in range(x):
            if i % 2:
                continue
            elif i > 10:
                break
        else:
            pass
    try:
        os.stat("x")
    except OSError:
        return None
    except ValueError:
        return 0
    else:
        return [i for i in range(y) if i if i > 1]
    finally:
        pass
    while x:
        x -= 1
    assert y, "y"
    return lambda z: z if z else -z


class Shape:
    """Doc."""

    def area(self):
        return 0

    def grow(self, by):
        if by > 0:
            return by
        return 0

    class Inner:
        def deep(self):
            def closure(q):
                return q and q or None
            return closure


async def fetcher(session, url):
    async with session.get(url) as response:
        async for chunk in response:
            if chunk:
                yield chunk


def matcher(command):
    match command:
        case "go":
            return 1
        case "stop" if command:
            return 2
        case _:
            return 0
'''

CONTINUATIONS = """x = (1 +
     2)  # trailing comment
y = '''not a
docstring''' + "!"
z = 1; w = 2
if z: w = 3
s = "a \\
b"
long_call(
    # a comment inside brackets
    1,

    2,
)
\"\"\"standalone
string\"\"\"


def f(a):
    return a if a else 0
"""
