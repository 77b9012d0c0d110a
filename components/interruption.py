"""Stopping long work early: a request to stop, made by an entry point, checked by the work.

A KeyboardInterrupt reaches only the main thread, and only when it runs Python code. Work in
other threads (a batch runner's items) and in native loops (a llama.cpp generation) checks
`stop_requested()` between steps instead, and raises `Interrupted`. Only an entry point (the
command line, on Ctrl-C) calls `request_stop()`: library code installs no signal handler.

Usage:
```python
from components import interruption

interruption.request_stop()          # in a SIGINT handler
...
interruption.raise_if_stopped()      # between two steps of long work, in any thread
```
"""

import threading

_stop = threading.Event()


class Interrupted(KeyboardInterrupt):
    """Work stopped because a stop was requested; unfinished work is not reported as done.

    A KeyboardInterrupt, so that broad `except Exception` fallbacks (a model chain trying the
    next model) let it through, and code that does not know it treats it as Ctrl-C.
    """


def request_stop() -> None:
    """Ask every piece of work in this process that checks to stop as soon as it can."""
    _stop.set()


def stop_requested() -> bool:
    """Whether a stop was requested (and not cleared since)."""
    return _stop.is_set()


def clear_stop() -> None:
    """Forget a stop request, so that new work runs (for long-lived processes and tests)."""
    _stop.clear()


def raise_if_stopped() -> None:
    """Raise `Interrupted` when a stop was requested."""
    if _stop.is_set():
        raise Interrupted()
