"""The web process's start-up heap is kept out of the cyclic GC, and logging is ours only
(issue 14: long p99 tails from full collections and a second, threaded log handler)."""

from __future__ import annotations

import gc
import logging
import weakref

from server.lifecycle import frozen_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def _tracked(obj: object) -> bool:
    # gc.get_objects() lists the collector's generations, not the frozen objects.
    return any(candidate is obj for candidate in gc.get_objects())


def test_objects_alive_at_start_are_frozen_for_the_block_only():
    kept = [Node()]
    with frozen_heap():
        assert not _tracked(kept)
        later = [Node()]
        assert _tracked(later)  # made after the freeze: collected as usual
    assert _tracked(kept)
    assert gc.get_freeze_count() == 0


def test_garbage_is_collected_before_the_freeze_not_kept_forever():
    garbage = Node()
    gone = weakref.ref(garbage)
    del garbage
    with frozen_heap():
        assert gone() is None


def test_garbage_cycles_made_inside_the_block_are_still_collected():
    with frozen_heap():
        garbage = Node()
        gone = weakref.ref(garbage)
        del garbage
        gc.collect()
        assert gone() is None


def test_the_app_leaves_logging_to_us():
    from server.app import create_app

    # Compared with what was there before: another test's app may have left a handler.
    before = list(logging.getLogger().handlers)
    app = create_app()
    assert app.logging_config is None
    assert logging.getLogger().handlers == before
