"""The groups' sequence counters and their epochs (issue 13, hardening B): a Redis that
comes back empty restarts the counters, and the epoch tells clients so."""

from __future__ import annotations

from django.core.cache import cache

from ioc.realtime import current_numbers, next_seq


def test_a_counter_created_again_after_an_empty_cache_has_a_new_epoch(db: None) -> None:
    first = next_seq("ward.test-epoch")
    second = next_seq("ward.test-epoch", 3)
    assert (second.last, second.epoch) == (first.last + 3, first.epoch)
    assert current_numbers(["ward.test-epoch"]) == {"ward.test-epoch": second}

    cache.clear()  # Redis restarted without its data
    assert current_numbers(["ward.test-epoch"]) == {"ward.test-epoch": (0, "")}
    again = next_seq("ward.test-epoch")

    assert again.last == 1  # numbered from the start: a client would take it for old ...
    assert again.epoch and again.epoch != first.epoch  # ... but for the new epoch
    assert current_numbers(["ward.test-epoch"]) == {"ward.test-epoch": again}


def test_a_lost_epoch_alone_is_replaced(db: None) -> None:
    first = next_seq("ward.test-lost")
    cache.delete("realtime:epoch:ward.test-lost")

    later = next_seq("ward.test-lost")

    assert later.last == first.last + 1
    assert later.epoch and later.epoch != first.epoch
