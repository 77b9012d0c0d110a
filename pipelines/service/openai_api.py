"""The OpenAI chat-completions format of docent's answers, whole and streamed (SSE).

Where docent's extras travel (documented in the README):

- a whole completion carries the answer trace (citations, decision, models, ...) in the extra
  top-level field `docent`, the same object `POST /v1/ask` returns;
- a stream sends `chat.completion.chunk`s whose `delta.content` is the answer as it is
  generated. Chunks with an extra field `docent` carry docent's events: `{"event":
  "restart", "reason"}` (drop the text received so far: the model failed mid-answer and the
  next one takes over, verification sent the answer to a stronger model, or docent
  abstained; the replacement follows) and, on the last chunk (with `finish_reason` "stop"),
  `{"event": "final", ...}` with the whole answer trace, whose `answer` is the final text
  with citation markers. A failure ends the stream with an OpenAI error event `{"error":
  {...}}` (the `openai` client raises it), never a silently cut answer.
"""

import json
import time
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.service.inputs import QUESTION_CHARS, Identifier, Text

# A message may be longer than a question (a client's system prompt), within reason.
MESSAGE_CHARS = 32_000
MAX_MESSAGES = 64


class ContentPart(BaseModel):
    """One part of a message's content; docent reads the text parts and ignores the others
    (images, audio, ...)."""

    model_config = ConfigDict(extra="allow")

    type: Annotated[Text, Field(max_length=64)]
    text: Annotated[Text, Field(max_length=MESSAGE_CHARS)] | None = None

    @model_validator(mode="after")
    def _text_part_has_text(self) -> "ContentPart":
        if self.type == "text" and self.text is None:
            raise ValueError('a part of type "text" needs a "text" string')
        return self


class ChatMessage(BaseModel):
    """One message of an OpenAI-style chat: content as text or as a list of parts."""

    role: Annotated[Text, Field(max_length=32)]
    content: (
        Annotated[Text, Field(max_length=MESSAGE_CHARS)]
        | Annotated[list[ContentPart], Field(max_length=MAX_MESSAGES)]
        | None
    ) = None

    def text(self) -> str:
        """The message's text (the text parts, joined)."""
        if isinstance(self.content, list):
            return " ".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """The fields of an OpenAI chat completion request that docent uses; others are ignored
    (the tenant, in particular, comes from the API key, never from the body). The earlier user
    messages are the conversation a follow-up is read in; docent's extra field `session_id`
    uses a stored session instead. At most 64 messages; a user message is a question, of at
    most 4,000 characters."""

    model: Annotated[Text, Field(max_length=128)] = "docent"
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    session_id: Identifier | None = None

    @model_validator(mode="after")
    def _questions_fit(self) -> "ChatRequest":
        for number, message in enumerate(self.messages, start=1):
            if message.role == "user" and len(message.text()) > QUESTION_CHARS:
                raise ValueError(
                    f"message {number} is {len(message.text()):,} characters; a user message "
                    f"is a question, of at most {QUESTION_CHARS:,}"
                )
        return self

    def _user_texts(self) -> list[str]:
        return [m.text() for m in self.messages if m.role == "user" and m.text().strip()]

    def question(self) -> str | None:
        """The last user message's text, or None when there is none."""
        texts = self._user_texts()
        return texts[-1] if texts else None

    def earlier_questions(self) -> list[str]:
        """The user messages before the last: the conversation a follow-up is read in."""
        return self._user_texts()[:-1]


def completion(answer: dict[str, Any], model: str) -> dict[str, Any]:
    """A whole `chat.completion` for an answer trace."""
    tokens = answer["tokens"]
    return {
        "id": f"chatcmpl-{answer['trace_id']}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": answer["model"] or model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer["answer"]},
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(tokens),
        "docent": answer,
    }


class ChunkWriter:
    """Server-sent events of one streamed completion, in the order a client expects."""

    def __init__(self, completion_id: str, model: str) -> None:
        """Chunks of completion `completion_id`, reported as model `model`."""
        self.id = completion_id
        self.model = model
        self.created = int(time.time())

    def role(self) -> str:
        """The first chunk: the assistant's role."""
        return self._chunk({"role": "assistant"})

    def event(self, event: dict[str, Any]) -> str:
        """A pipeline event (see `pipelines.streaming`) as a chunk."""
        if event["type"] == "token":
            return self._chunk({"content": event["text"]})
        extra = {key: value for key, value in event.items() if key != "type"}
        return self._chunk({}, docent={"event": event["type"], **extra})

    def final(self, answer: dict[str, Any]) -> str:
        """The last chunk: the finish reason, usage, and the whole answer trace."""
        return self._chunk(
            {}, finish="stop", usage=_usage(answer["tokens"]), docent={"event": "final", **answer}
        )

    def error(self, message: str, kind: str, status: int) -> str:
        """An error event that ends the stream."""
        return _sse({"error": {"message": message, "type": kind, "code": status, "param": None}})

    def done(self) -> str:
        """The end of the stream."""
        return "data: [DONE]\n\n"

    def _chunk(
        self,
        delta: dict[str, Any],
        finish: str | None = None,
        usage: dict[str, int] | None = None,
        docent: dict[str, Any] | None = None,
    ) -> str:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage is not None:
            chunk["usage"] = usage
        if docent is not None:
            chunk["docent"] = docent
        return _sse(chunk)


def _usage(tokens: dict[str, int]) -> dict[str, int]:
    return {
        "prompt_tokens": tokens["prompt"],
        "completion_tokens": tokens["completion"],
        "total_tokens": tokens["prompt"] + tokens["completion"],
    }


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False, default=str)}\n\n"
