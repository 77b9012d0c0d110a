"""What a streamed answer sends: the draft as it is generated, restarts, and the final text.

A rag answer is verified only once it is whole, so the text a client sees streaming in is a
draft. `StreamRelay` keeps what was sent consistent with the answer that is finally given:

- `{"type": "token", "text"}`: the next piece of the draft (leading white space dropped);
- `{"type": "restart", "reason"}`: drop the draft received so far (the model failed mid-answer
  and the next one takes over, verification sent the answer to a stronger model, or the final
  answer is not the draft: docent abstained);
- after the answer is final, the rest of its text, so that the pieces since the last restart
  add up to the final answer, up to citation markers ("[1]"): the final answer's markers
  travel with the final event together with the citations.
"""

from collections.abc import Callable
from typing import Any

from components.generation.cited_answer_builder import strip_citations

Event = dict[str, Any]


def plain(text: str) -> str:
    """`text` without citation markers, its white space collapsed."""
    return " ".join(strip_citations(text).split())


class StreamRelay:
    """Passes the chain's events on to `send`, tracking the draft the client holds.

    Usage:
    ```python
    relay = StreamRelay(queue.put)
    qa.ask(question, on_event=relay)   # tokens and restarts, then relay.finish(answer text)
    ```
    """

    def __init__(self, send: Callable[[Event], None]) -> None:
        """Relay to `send`."""
        self.send = send
        self.draft = ""

    def __call__(self, event: Event) -> None:
        """Take one event of the fallback chain ("token" or "restart")."""
        if event["type"] == "token":
            self.token(event["text"], event.get("model"))
        elif event["type"] == "restart":
            self.restart(event["reason"], event.get("model"))

    def token(self, text: str, model: str | None = None) -> None:
        """Send a piece of the draft."""
        if not self.draft:
            text = text.lstrip()
        if text:
            self.draft += text
            self.send({"type": "token", "text": text, "model": model})

    def restart(self, reason: str, model: str | None = None) -> None:
        """Tell the client to drop its draft (when it has one), and why."""
        if self.draft:
            self.draft = ""
            self.send({"type": "restart", "reason": reason, "model": model})

    def finish(self, final: str, reason: str = "the final answer replaces the draft") -> None:
        """Complete the draft into `final`: send what is missing, or restart with all of it."""
        target, held = plain(final), plain(self.draft)
        if target == held:
            return
        if held and not target.startswith(held):
            self.restart(reason)
            held = ""
        self.token(target[len(held) :])
