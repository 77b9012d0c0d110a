"""What one request's components write into as it passes through the query pipeline."""

import dataclasses
from typing import Any

from components.generation.fallback_generator import Budget
from pipelines.answer import Answer
from pipelines.config import RouteSettings
from pipelines.streaming import StreamRelay


@dataclasses.dataclass
class Turn:
    """One request as the query pipeline carries it: its `Answer` (the conversation already
    recorded), its `Budget`, where its drafts stream (None: nowhere, or not before the answer
    is masked), whose request it is, its conversation's id, and the route the intent router
    chose (None until it has).

    A Haystack pipeline deep-copies every input it passes; a turn is passed as itself, as an
    Agent's state is, because the answer and budget it carries are the request's own.
    """

    answer: Answer
    budget: Budget
    relay: StreamRelay | None = None
    tenant: str | None = None
    session_id: str | None = None
    route: RouteSettings | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> "Turn":
        return self
