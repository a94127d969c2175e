"""The worker supervisor's restart logic, with stand-in children and a hand-moved clock."""

from __future__ import annotations

import itertools
import signal

from worker.supervisor import Restarts, Supervisor, child_node

_pids = itertools.count(1000)


class FakeChild:
    """A child process that runs until told to exit (or is signalled)."""

    def __init__(self) -> None:
        self.pid = next(_pids)
        self.code: int | None = None
        self.signals: list[int] = []

    def poll(self) -> int | None:
        return self.code

    def wait(self) -> int:
        assert self.code is not None, "the supervisor waited for a child that never stops"
        return self.code

    def send_signal(self, signum: int) -> None:
        self.signals.append(signum)
        self.code = 0  # a warm shutdown


class Host:
    def __init__(self) -> None:
        self.now = 0.0
        self.spawned: list[tuple[int, FakeChild]] = []

    def spawn(self, index: int) -> FakeChild:
        child = FakeChild()
        self.spawned.append((index, child))
        return child

    def clock(self) -> float:
        return self.now

    def supervisor(self, count: int, **restarts: float) -> Supervisor:
        sup = Supervisor(count, self.spawn, lambda: Restarts(**restarts), clock=self.clock)  # type: ignore[arg-type]
        sup.start()
        return sup


def test_a_dead_child_is_started_again_after_a_backoff() -> None:
    host = Host()
    sup = host.supervisor(2, base_s=1.0)
    first = host.spawned[0][1]
    host.now = 5.0
    first.code = -9  # SIGKILLed
    assert sup.check()
    assert len(host.spawned) == 2  # not at once: after the backoff
    host.now = 5.5
    assert sup.check() and len(host.spawned) == 2
    host.now = 6.0
    assert sup.check()
    assert [index for index, _ in host.spawned] == [1, 2, 1]  # the same slot, started again
    assert sup.slots[0].proc is host.spawned[2][1]


def test_quick_deaths_double_the_wait_and_a_long_life_resets_it() -> None:
    restarts = Restarts(base_s=1.0, max_s=5.0, healthy_after_s=60.0, max_quick=10)
    assert [restarts.after_exit(1.0) for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert restarts.after_exit(120.0) == 1.0
    assert restarts.quick == 0


def test_a_child_that_keeps_dying_makes_the_supervisor_give_up_non_zero() -> None:
    host = Host()
    sup = host.supervisor(2, base_s=1.0, max_quick=2)
    healthy = host.spawned[1][1]
    for _ in range(3):
        sup.slots[0].proc.code = 1  # type: ignore[attr-defined]
        host.now += 0.1
        if not sup.check():
            break
        host.now += 10
        assert sup.check()
    else:
        raise AssertionError("the supervisor never gave up")
    assert sup.gave_up == 1
    sup.signal_all(signal.SIGTERM)
    assert healthy.signals == [signal.SIGTERM]  # the others are stopped, not abandoned
    assert sup.wait() == 1


def test_stop_signal_reaches_each_running_child_once_and_exit_is_clean() -> None:
    host = Host()
    sup = host.supervisor(3)
    host.spawned[2][1].code = 1  # died; its restart is pending when the signal comes
    host.now = 1.0
    assert sup.check()
    sup.signal_all(signal.SIGTERM)
    sup.signal_all(signal.SIGTERM)
    assert [child.signals for _, child in host.spawned] == [[signal.SIGTERM], [signal.SIGTERM], []]
    assert sup.wait() == 0  # the earlier death was dealt with; this stop is clean


def test_child_node_names() -> None:
    assert child_node("imagejobs@%h", 1, 1) == "imagejobs@%h"
    assert child_node("imagejobs@%h", 2, 3) == "imagejobs2@%h"
    assert child_node("w", 1, 2) == "w1@%h"
