"""The embedded server's in-process runners: items handed over together are done together,
each once, and a failing run does not stop the runner."""

from __future__ import annotations

import threading
import time
from typing import Any

from ioc import inprocess
from tests.support import runner_serving, wait_for


class Recorder:
    """A job that records each run's items (and can be told to fail once)."""

    def __init__(self, *, seconds: float = 0.0, fail_first: bool = False) -> None:
        self.runs: list[list[Any]] = []
        self.seconds = seconds
        self.fail_next = fail_first
        self.threads: set[str] = set()

    def __call__(self, items: list[Any]) -> None:
        self.threads.add(threading.current_thread().name)
        self.runs.append(list(items))
        time.sleep(self.seconds)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("this run fails")

    def items(self) -> list[Any]:
        return [item for run in self.runs for item in run]


def test_without_a_serving_runner_the_caller_is_told_to_do_the_work() -> None:
    assert not inprocess.serving("nobody")
    assert inprocess.hand_over("nobody", 1) is False


def test_items_handed_over_together_are_done_in_one_run_each_once() -> None:
    job = Recorder()
    with runner_serving(inprocess.Runner("test", job, gather=0.05)):
        threads = [
            threading.Thread(target=inprocess.hand_over, args=("test", n)) for n in range(20)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_for(lambda: len(job.items()) == 20, 5, "every item done")
        time.sleep(0.1)
    assert len(job.runs) == 1
    assert sorted(job.items()) == list(range(20))
    assert not inprocess.serving("test")
    assert job.threads and threading.current_thread().name not in job.threads


def test_items_handed_over_during_a_run_wait_for_the_next_one() -> None:
    job = Recorder(seconds=0.3)
    with runner_serving(inprocess.Runner("test", job)):
        assert inprocess.hand_over("test", "first")
        wait_for(lambda: len(job.runs) == 1, 5, "the first run started")
        for item in ("second", "third"):
            assert inprocess.hand_over("test", item)
        wait_for(lambda: len(job.items()) == 3, 5, "every item done")
    assert job.runs == [["first"], ["second", "third"]]


def test_a_failing_run_does_not_stop_the_runner(caplog: Any) -> None:
    job = Recorder(fail_first=True)
    with runner_serving(inprocess.Runner("test", job)):
        assert inprocess.hand_over("test", 1)
        wait_for(lambda: len(job.runs) == 1, 5, "the failing run")
        time.sleep(0.05)
        assert inprocess.hand_over("test", 2)
        wait_for(lambda: len(job.runs) == 2, 5, "the run after it")
    assert job.runs == [[1], [2]]
    assert "in-process test: a run failed" in caplog.text
