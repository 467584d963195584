"""OpenAI-compatible chat completions, so OpenAI clients and chat front ends can talk to the bot."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StrictBool
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.audit import Trail, answer_record, write
from api.deps import MetricsDep, Reader, ReaderEngine, SettingsDep
from api.errors import Unprocessable
from api.limits import check_question
from api.metrics import ApiMetrics
from api.schemas import (
    EXAMPLE_QUESTION,
    HISTORY_CEILING,
    TURN_CEILING,
    CitationOut,
    json_integer,
    problem_responses,
)
from api.sse import event_schema, event_stream, events_off_loop, sse
from rag.answer.entry import answer
from rag.answer.events import answer_events
from rag.records import Answer, Turn
from rag.runtime import Runtime
from rag.shapes import answer_to_json

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["openai"])

MODEL_ID = "policyqa"
StrictFloat = Annotated[float, Strict()]  # still takes 1 for 1.0, but not true or "1"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(max_length=50)
    text: str | None = Field(default=None, max_length=TURN_CEILING)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: (
        Annotated[str, Field(max_length=TURN_CEILING)] | Annotated[list[ContentPart], Field(max_length=100)] | None
    ) = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type in ("text", "input_text"))
        return self.content or ""


# What `split_messages` needs, stated in the schema: at least one user message with non-blank text.
_USER_MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"const": "user"},
        "content": {
            "anyOf": [
                {"type": "string", "pattern": r"\S"},
                {
                    "type": "array",
                    "contains": {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {
                            "type": {"enum": ["text", "input_text"]},
                            "text": {"type": "string", "pattern": r"\S"},
                        },
                    },
                },
            ]
        },
    },
}


class ChatCompletionRequest(BaseModel):
    """The OpenAI request; sampling options are accepted for compatibility and ignored (answers are
    verified extracts, not samples)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"model": MODEL_ID, "messages": [{"role": "user", "content": EXAMPLE_QUESTION}]},
                {
                    "model": MODEL_ID,
                    "stream": True,
                    "messages": [
                        {"role": "system", "content": "Trả lời bằng tiếng Việt."},
                        {"role": "user", "content": "Các cơ quan báo chí phải làm gì?"},
                        {
                            "role": "assistant",
                            "content": "Đẩy mạnh phổ biến, tuyên truyền các nội dung trên [1].",
                        },
                        {"role": "user", "content": "Còn UBND các huyện thì sao?"},
                    ],
                },
            ]
        },
    )

    model: str = Field(default=MODEL_ID, max_length=200)
    messages: list[ChatMessage] = Field(
        min_length=1,
        max_length=HISTORY_CEILING + 10,
        description="The conversation; the last user message with text is the question",
        json_schema_extra={"contains": _USER_MESSAGE},
    )
    stream: StrictBool = False
    temperature: StrictFloat | None = Field(default=None, ge=0, le=2)
    top_p: StrictFloat | None = Field(default=None, ge=0, le=1)
    max_tokens: Annotated[int, Field(ge=1), BeforeValidator(json_integer)] | None = None
    n: Annotated[int, Field(ge=1, le=1), BeforeValidator(json_integer)] | None = Field(
        default=None, description="Only one choice is produced"
    )
    user: str | None = Field(default=None, max_length=200)


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: ChatMessageOut
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int = Field(description="Approximate (whitespace-separated words)")
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[CitationOut] = Field(description="The passages behind the [n] markers in the content")
    abstained: bool
    answer_id: str = Field(description="The audit record's id: GET /v1/answers/{answer_id}/export")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "policyqa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def split_messages(messages: list[ChatMessage], max_turns: int) -> tuple[str, list[Turn]]:
    """The last user message with text is the question; earlier user/assistant turns (the most recent
    `max_turns`) are the history. Chat front ends resend whole conversations, so older turns are dropped,
    not refused."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user" and m.text().strip()), default=None)
    if last_user is None:
        msg = "needs at least one message with role 'user' and non-blank text"
        raise Unprocessable(
            f"body.messages: {msg}", errors=[{"loc": ["body", "messages"], "msg": msg, "type": "value_error"}]
        )
    turns = [
        Turn(role=m.role, content=m.text())
        for m in messages[:last_user]
        if m.role in ("user", "assistant") and m.text().strip()
    ]
    return messages[last_user].text(), turns[-max_turns:] if max_turns else []


def _words(*texts: str) -> int:
    return sum(len(t.split()) for t in texts)


def _completion(ans: Answer, model: str, history: list[Turn], answer_id: str) -> ChatCompletion:
    prompt = _words(ans.question, *(t.content for t in history))
    completion = _words(ans.text)
    return ChatCompletion(
        id=f"chatcmpl-{uuid.uuid4().hex}",
        created=int(time.time()),
        model=model,
        choices=[Choice(message=ChatMessageOut(content=ans.text))],
        usage=Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion),
        citations=[CitationOut.of(c) for c in ans.citations],
        abstained=ans.abstained,
        answer_id=answer_id,
    )


async def _chunks(
    question: str, history: list[Turn], engine: Runtime, model: str, metrics: ApiMetrics, trail: Trail
) -> AsyncIterator[str]:
    base: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return sse(None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})

    yield chunk({"role": "assistant", "content": ""})
    replace = False
    record = None
    async for ev in events_off_loop(answer_events(question, history, None, engine=engine)):
        if ev.type == "token":
            yield chunk({"content": ev.data["text"]})
        elif ev.type == "status" and ev.data.get("replace"):
            replace = True  # rare (an LLM failed mid-answer): deltas cannot retract what was streamed
        elif ev.type == "done":
            metrics.answers.labels(
                outcome="abstained" if ev.data.get("abstained") else "answered", endpoint="chat"
            ).inc()
            extra: dict[str, Any] = {
                "citations": ev.data.get("citations", []),
                "abstained": bool(ev.data.get("abstained")),
                "answer_id": trail.id,
            }
            if replace:  # the authoritative answer travels in the last chunk for clients that know to look
                extra.update(replace=True, answer=ev.data.get("answer", ""))
            record = answer_record(trail, engine, ev.data)
            yield chunk({}, "stop", **extra)
        elif ev.type == "error":
            log.warning("streamed chat completion failed: %s", ev.data.get("detail"))
            metrics.record_answer(None, "chat")
            # The OpenAI clients raise APIError on an `error` object inside the stream.
            yield sse(
                None,
                {
                    "error": {
                        "message": ev.data.get("detail"),
                        "type": ev.data.get("type"),
                        "code": ev.data.get("status"),
                    }
                },
            )
    yield sse(None, "[DONE]")
    if record is not None:
        await run_in_threadpool(write, trail.log, record)


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="OpenAI-compatible chat completion",
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "schema": event_schema(None, "A chat.completion.chunk as JSON, or the final literal [DONE]")
                }
            },
            "description": "A chat.completion, or chat.completion.chunk events ending with "
            "`data: [DONE]` when `stream` is true; the last chunk carries "
            "`citations` and `answer_id` (and, in the rare case an LLM failed mid-answer so the streamed "
            "text is not the answer, `replace: true` with the full `answer`).",
        },
        **problem_responses(400, 401, 403, 413, 422, 429, 503),
    },
)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    background: BackgroundTasks,
    principal: Reader,
    engine: ReaderEngine,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> ChatCompletion | Response:
    """The last user message is the question and earlier turns the conversation; the reply carries [n]
    markers and a `citations` field with the quoted passages."""
    question, history = split_messages(body.messages, settings.max_history_turns)
    check_question(
        question,
        len(history),
        max_chars=settings.max_question_chars,
        max_turns=settings.max_history_turns,
        field="messages",
    )
    if body.stream:
        return event_stream(_chunks(question, history, engine, body.model, metrics,
                                    Trail("chat_stream", principal, request)))
    trail = Trail("chat", principal, request)
    try:
        ans = await run_in_threadpool(answer, question, history, None, engine=engine)
    except Exception:
        metrics.record_answer(None, "chat")
        raise
    metrics.record_answer(ans, "chat")
    background.add_task(write, trail.log, answer_record(trail, engine, answer_to_json(ans)))
    return _completion(ans, body.model, history, trail.id)


@router.get(
    "/models",
    response_model=ModelList,
    summary="OpenAI-compatible model list",
    responses=problem_responses(401, 403, 429),
)
async def list_models(principal: Reader) -> ModelList:
    """The one model this server answers as (chat front ends ask for this list first)."""
    return ModelList(data=[ModelCard(id=MODEL_ID, created=0)])
