"""Silence what native libraries print while they load."""

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def native_output_silenced() -> Iterator[None]:
    """Send what native code prints to stdout and stderr to /dev/null for the block.

    llama.cpp prints notes while it loads a model even when asked not to (a vocabulary-only
    model warns that its training context is unknown, a full one describes its cache); they
    mean nothing to a user, and errors still surface as exceptions.
    """
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "wb") as null:
        try:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
