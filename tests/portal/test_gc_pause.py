"""gc_paused: the cyclic collector is off inside, back as it was after, however threads overlap."""

import gc
import threading

import pytest

from portal.lib.gc_pause import gc_paused


@pytest.fixture(autouse=True)
def collector_on():
    gc.enable()
    yield
    gc.enable()


def test_it_pauses_collection_and_restores_it():
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: still off after the inner one leaves
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_it_restores_collection_when_the_body_raises():
    with pytest.raises(ZeroDivisionError), gc_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()


def test_it_leaves_a_collector_that_was_off_off():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_threads_share_one_pause():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with gc_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with gc_paused():
            second_in.set()
            first_out.wait(5)
            seen["after the first left"] = gc.isenabled()
        seen["after both left"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"after the first left": False, "after both left": True}


def test_it_works_as_a_decorator():
    @gc_paused()
    def inside():
        return gc.isenabled()

    assert inside() is False
    assert inside() is False  # a fresh pause per call
    assert gc.isenabled()
