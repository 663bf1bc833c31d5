"""A model policy behind an OpenAI-compatible chat endpoint (``envkit serve-policy smollm2``).

Libraries that reach a model over HTTP (verifiers' harnesses, OpenEnv agents, any
OpenAI client) can then play envkit's envs with envkit's offline models (``smollm2``,
``tiny``, ``hf:FOLDER``), on a laptop, with no inference server to install.
``POST /v1/chat/completions`` renders the messages with the model's chat template
exactly as :class:`~envkit.policy.hf.HFPolicy` does in envkit's own rollouts and samples
with the request's ``max_tokens``, ``temperature``, ``top_p``, ``seed`` and ``stop``; the
reply comes whole or, with ``"stream": true``, as server-sent chunks (the text, the
finish reason, a usage chunk, ``[DONE]``), the shape OpenAI's client reads.
``GET /v1/models`` names the served model.

The wire format is kept apart from the model (:func:`chat_completions_app` takes any
function from a :class:`ChatRequest` to a :class:`ChatReply`), so the same endpoint serves
a test's scripted replies.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from envkit.policy.base import TurnRequest
from envkit.policy.settings import GenerationSettings
from envkit.protocol.context import Message
from envkit.protocol.parser import safe_text

__all__ = ["ChatReply", "ChatRequest", "chat_completions_app", "policy_replies"]


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat completion to write: the messages and the sampling settings the request gave (None: the server's)."""

    messages: list[Message]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatReply:
    """The assistant's text and what it cost in tokens."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length"] = "stop"


class ReplyError(ValueError):
    """A request the model cannot answer (e.g. a context over its budget): a 400 with this message."""


class _TextPart(BaseModel):
    type: Literal["text"] = "text"
    text: str


class _WireMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str | list[_TextPart] | None = None

    def as_message(self) -> Message:
        content = self.content
        text = "".join(part.text for part in content) if isinstance(content, list) else content or ""
        return {"role": self.role, "content": safe_text(text)}  # an escaped lone surrogate cannot be encoded


class _StreamOptions(BaseModel):
    include_usage: bool = False


class _WireRequest(BaseModel):
    model: str
    messages: list[_WireMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2, allow_inf_nan=False)  # OpenAI's range
    top_p: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)  # torch's seed range
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: _StreamOptions | None = None
    n: int = Field(default=1, ge=1, le=1)

    def as_request(self) -> ChatRequest:
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        return ChatRequest(
            messages=[m.as_message() for m in self.messages],
            max_tokens=self.max_completion_tokens or self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            stop=stop,
        )


def _usage(reply: ChatReply) -> dict[str, int]:
    total = reply.prompt_tokens + reply.completion_tokens
    return {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens, "total_tokens": total}


def _completion(reply: ChatReply, model: str, completion_id: str, created: int) -> dict[str, Any]:
    message = {"role": "assistant", "content": reply.text}
    choice = {"index": 0, "message": message, "finish_reason": reply.finish_reason, "logprobs": None}
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [choice],
        "usage": _usage(reply),
    }


def _chunks(reply: ChatReply, model: str, completion_id: str, created: int) -> Iterator[str]:
    """Server-sent events: the role and text, the finish reason, the usage, ``[DONE]``."""
    head = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}
    text = {"index": 0, "delta": {"role": "assistant", "content": reply.text}, "finish_reason": None}
    end = {"index": 0, "delta": {}, "finish_reason": reply.finish_reason}
    for event in (
        {**head, "choices": [text]},
        {**head, "choices": [end]},
        {**head, "choices": [], "usage": _usage(reply)},
    ):
        yield f"data: {json.dumps(event)}\n\n"
    yield "data: [DONE]\n\n"


def chat_completions_app(reply: Callable[[ChatRequest], ChatReply], model: str) -> Any:
    """A FastAPI app answering OpenAI chat completions for ``model`` with ``reply`` (called one request at a time)."""
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import StreamingResponse

    app = FastAPI(title=f"envkit chat endpoint: {model}")
    _plain_validation_errors(app)
    lock = threading.Lock()  # one set of weights, and a request's seed is torch's global seed

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": model}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model, "object": "model", "owned_by": "envkit"}]}

    @app.post("/v1/chat/completions", response_model=None)
    def chat(body: _WireRequest) -> Any:
        if body.model != model:
            raise HTTPException(404, f"The model `{body.model}` does not exist; this server serves `{model}`.")
        with lock:
            try:
                answer = reply(body.as_request())
            except ReplyError as error:
                raise HTTPException(400, str(error)) from None
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if body.stream:
            return StreamingResponse(_chunks(answer, model, completion_id, created), media_type="text/event-stream")
        return _completion(answer, model, completion_id, created)

    return app


def _plain_validation_errors(app: Any) -> None:
    """A request that fails validation gets a 422 naming each field, without echoing its value.

    FastAPI's default error echoes the input, and an input of ``NaN`` cannot be written
    as JSON: the client got a 500 instead of being told which field was wrong.
    """
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Any, error: RequestValidationError) -> Any:
        problems = [
            {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type"))}
            for e in error.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": problems})


def policy_replies(
    policy: Any, defaults: GenerationSettings, max_tokens_limit: int = 4096
) -> Callable[[ChatRequest], ChatReply]:
    """Replies an :class:`~envkit.policy.hf.HFPolicy` writes, with a request's settings over ``defaults``.

    The stop strings end the reply and are left out of it, as OpenAI's API does; a
    context over the policy's ``max_context_tokens`` is refused (nothing is cut to fit),
    and so is a ``max_tokens`` over ``max_tokens_limit`` (one request of a million tokens
    held the single generation lock long past its client's timeout).
    """

    def reply(request: ChatRequest) -> ChatReply:
        if request.max_tokens is not None and request.max_tokens > max_tokens_limit:
            raise ReplyError(f"max_tokens may be at most {max_tokens_limit} on this server, got {request.max_tokens}")
        policy.generation = GenerationSettings(
            max_new_tokens=request.max_tokens or defaults.max_new_tokens,
            temperature=defaults.temperature if request.temperature is None else request.temperature,
            top_p=defaults.top_p if request.top_p is None else request.top_p,
            top_k=defaults.top_k,
        )
        policy.seed = request.seed
        (generation,) = policy.act([TurnRequest(0, "", {"messages": request.messages}, request.stop)])
        if generation.over_budget:
            budget = policy.max_context_tokens
            raise ReplyError(f"the context has {generation.context_tokens} tokens, over this server's {budget}")
        text, stopped = _cut_at_stop(generation.text, request.stop)
        full = generation.generated_tokens >= policy.generation.max_new_tokens
        return ChatReply(
            text=text,
            prompt_tokens=generation.context_tokens,
            completion_tokens=generation.generated_tokens,
            finish_reason="length" if full and not stopped else "stop",
        )

    return reply


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """``text`` up to the earliest stop string (left out), and whether one was found."""
    found = [text.find(stop) for stop in stops if stop and stop in text]
    return (text[: min(found)], True) if found else (text, False)
