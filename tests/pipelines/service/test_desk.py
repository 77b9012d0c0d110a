"""FairDesk: bounded waiting in all and per caller, callers served in turns, cancellation."""

import threading

import pytest

from pipelines.service.desk import Busy, FairDesk


def held_desk(**bounds):
    """A desk whose one worker is held until the returned event is set."""
    desk = FairDesk("model", workers=1, **bounds)
    release = threading.Event()
    started = threading.Event()

    def hold():
        started.set()
        release.wait()

    desk.submit("holder", hold)
    assert started.wait(5)
    return desk, release


def test_callers_are_served_in_turns_not_in_arrival_order():
    desk, release = held_desk(max_waiting=10, per_caller=10)
    order = []
    futures = [desk.submit("loud", lambda n=n: order.append(f"loud{n}")) for n in range(4)]
    futures.append(desk.submit("quiet", lambda: order.append("quiet")))
    release.set()
    for future in futures:
        future.result(timeout=5)
    desk.close()
    assert order == ["loud0", "quiet", "loud1", "loud2", "loud3"]


def test_waiting_is_bounded_in_all_and_per_caller():
    desk, release = held_desk(max_waiting=3, per_caller=2)
    desk.submit("a", lambda: None)
    desk.submit("a", lambda: None)
    with pytest.raises(Busy) as share:
        desk.submit("a", lambda: None)
    assert share.value.reason == "caller_share" and "max_waiting_per_key" in str(share.value)
    desk.submit("b", lambda: None)
    with pytest.raises(Busy) as full:
        desk.submit("c", lambda: None)
    assert full.value.reason == "queue_full"
    desk.submit("c", lambda: None, bounded=False)  # resumed work is queued whatever the bounds
    assert desk.holding() == 5
    release.set()
    desk.close()


def test_a_cancelled_call_never_runs_and_results_and_errors_reach_the_caller():
    desk, release = held_desk(max_waiting=5, per_caller=5)
    ran = []
    dropped = desk.submit("a", lambda: ran.append("dropped"))
    answered = desk.submit("a", lambda: 42)
    failed = desk.submit("b", lambda: 1 / 0)
    assert dropped.cancel()
    release.set()
    assert answered.result(timeout=5) == 42
    with pytest.raises(ZeroDivisionError):
        failed.result(timeout=5)
    desk.close()
    assert ran == []


def test_closing_drops_the_waiting_and_refuses_more():
    desk, release = held_desk(max_waiting=5, per_caller=5)
    waiting = desk.submit("a", lambda: None)
    closer = threading.Thread(target=desk.close)
    closer.start()
    for _ in range(500):  # close() drops the waiting call at once, then waits for the held one
        if waiting.cancelled():
            break
        threading.Event().wait(0.01)
    assert waiting.cancelled()
    release.set()
    closer.join(5)
    assert not closer.is_alive()
    with pytest.raises(Busy):
        desk.submit("a", lambda: None)


def test_calls_for_idle_workers_never_count_as_waiting():
    desk = FairDesk("model", workers=8, max_waiting=0, per_caller=1)
    release = threading.Event()
    started = threading.Semaphore(0)

    def hold():
        started.release()
        release.wait()

    # Eight at once from one caller: each has a worker, so none waits and none is refused,
    # however fast they come.
    futures = [desk.submit("a", hold) for _ in range(8)]
    for _ in range(8):
        assert started.acquire(timeout=5)
    with pytest.raises(Busy) as full:
        desk.submit("b", lambda: None)
    assert full.value.reason == "queue_full"
    release.set()
    for future in futures:
        future.result(timeout=5)
    desk.close()
