"""CircuitBreaker: opens after repeated failures, refuses during the cool-down, then probes."""

import threading

import pytest

from components.routing.circuit_breaker import CircuitBreaker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_opens_after_the_threshold_and_probes_after_the_cooldown():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=10, clock=clock)
    breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    assert breaker.seconds_until_probe() == 10
    clock.now += 10
    assert breaker.state == "half_open"
    assert breaker.allow()
    assert not breaker.allow(), "only one probe at a time"
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow()


def test_a_failed_probe_opens_it_again_for_a_full_cooldown():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 4.9
    assert not breaker.allow()


def test_a_released_probe_lets_the_next_probe_through():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow() and not breaker.allow()
    breaker.release()  # the probe ended without an outcome
    assert breaker.state == "half_open" and breaker.allow()


def test_a_success_resets_the_count():
    breaker = CircuitBreaker(failure_threshold=2)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"


@pytest.mark.parametrize("kwargs", [{"failure_threshold": 0}, {"cooldown_seconds": -1}])
def test_invalid_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        CircuitBreaker(**kwargs)


def test_failures_of_calls_let_through_before_it_opened_neither_reopen_it_nor_delay_the_probe():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=10, clock=clock)
    assert all(breaker.allow() for _ in range(5))  # five calls in flight at once
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 4
    breaker.record_failure()  # a call that was already running ends later
    breaker.record_failure()
    assert (breaker.failures, breaker.openings) == (4, 1)
    assert breaker.seconds_until_probe() == 6
    clock.now += 6
    assert breaker.allow(), "the probe comes when the first opening's cool-down ends"
    breaker.record_failure()
    assert (breaker.state, breaker.openings) == ("open", 2)


def test_a_call_ending_while_the_probe_is_in_flight_is_not_taken_for_the_probe():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=10, clock=clock)

    def on_another_thread(step):
        thread = threading.Thread(target=step)
        thread.start()
        thread.join()

    on_another_thread(lambda: breaker.allow())  # a call let through while it was closed
    breaker.allow()
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow(), "the probe"
    # The earlier call fails now, on its own thread: counted, but the probe stays in flight.
    on_another_thread(breaker.record_failure)
    on_another_thread(breaker.release)
    assert (breaker.state, breaker.openings, breaker.failures) == ("half_open", 1, 2)
    assert not breaker.allow(), "no second probe while the first is in flight"
    breaker.record_success()
    assert breaker.state == "closed"
