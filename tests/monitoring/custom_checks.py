"""Callables for the `custom` health-check kind in tests."""

import time


def answers(*, check, status="healthy", message="fine"):
    return status, message


def raises(*, check):
    raise RuntimeError("queue is wedged")


def hangs(*, check, seconds=5):
    time.sleep(seconds)
    return True
