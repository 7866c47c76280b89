"""The WebSocket protocol: every client message, validated before it touches state.

Documented in docs/protocol.md; keep the two in step.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from core.errors import SankeError

MAX_MESSAGE_BYTES = 64 * 1024
MAX_DEPTH = 6  # the deepest legitimate message (publish.offer → tracks → track) nests 3 levels
MAX_ID_CHARS = 64
ParticipantId = Annotated[str, Field(min_length=1, max_length=120)]


def _request_id(v: str | int | None) -> str | int | None:
    if isinstance(v, str) and len(v) > MAX_ID_CHARS:
        raise ValueError(f"an id has at most {MAX_ID_CHARS} characters")
    if isinstance(v, int) and abs(v) > 2**53:
        raise ValueError("an id number must be within ±2^53")
    return v


RequestId = Annotated[str | int | None, AfterValidator(_request_id)]


class Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: RequestId = Field(default=None)


class Join(Msg):
    type: Literal["join"]
    token: Annotated[str, Field(min_length=10, max_length=4096)]


class Resume(Msg):
    type: Literal["resume"]
    room: Annotated[str, Field(min_length=1, max_length=40)]
    participant_id: ParticipantId
    resume_token: Annotated[str, Field(min_length=10, max_length=200)]
    last_seq: Annotated[int, Field(ge=0, le=2**53)] | None = None  # the last room event's `seq` it saw


class Ping(Msg):
    type: Literal["ping"]


class Leave(Msg):
    type: Literal["leave"]


class HandRaise(Msg):
    type: Literal["hand.raise"]


class HandLower(Msg):
    type: Literal["hand.lower"]
    participant_id: ParticipantId | None = None


class StageInvite(Msg):
    type: Literal["stage.invite"]
    participant_id: ParticipantId


class StageLeave(Msg):
    type: Literal["stage.leave"]
    participant_id: ParticipantId | None = None


class MuteRequest(Msg):
    type: Literal["mute.request"]
    participant_id: ParticipantId
    source: Literal["microphone", "camera", "screen"] = "microphone"


class ParticipantRemove(Msg):
    type: Literal["participant.remove"]
    participant_id: ParticipantId


class RoomStart(Msg):
    type: Literal["room.start"]


class RoomEnd(Msg):
    type: Literal["room.end"]


class TrackSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    mid: Annotated[str, Field(min_length=1, max_length=16)]
    kind: Literal["audio", "video"]
    source: Literal["camera", "microphone", "screen"]
    quality: Literal["high", "low"] = "high"


Sdp = Annotated[str, Field(min_length=10, max_length=48 * 1024)]


class PublishOffer(Msg):
    type: Literal["publish.offer"]
    sdp: Sdp
    tracks: Annotated[list[TrackSpec], Field(min_length=1, max_length=6)]


OfferId = Annotated[int, Field(ge=1, le=2**53)]


class SubscriberAnswer(Msg):
    type: Literal["subscriber.answer"]
    sdp: Sdp
    offer_id: OfferId | None = None  # the `subscriber.offer` it answers; absent from older clients


# "candidate:<foundation> <component> <udp|tcp> <priority> <address> <port> typ <type> ..." or "" (end)
CANDIDATE_LINE = r"^((candidate:)?[0-9A-Za-z+/]{1,32} \d{1,5} (?i:udp|tcp) \d{1,10} [0-9A-Za-z.:\-]{1,64} \d{1,5} typ [a-z]{1,8}( [ -~]*)?)?$"


class IceCandidate(BaseModel):
    """RTCIceCandidate.toJSON(); the line is checked here so that aiortc never parses garbage."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    candidate: Annotated[str, Field(max_length=512, pattern=CANDIDATE_LINE)] = ""
    sdpMid: Annotated[str, Field(max_length=16)] | None = None  # noqa: N815 (the browser's name)
    sdpMLineIndex: Annotated[int, Field(ge=0, le=64)] | None = None  # noqa: N815
    usernameFragment: Annotated[str, Field(max_length=256)] | None = None  # noqa: N815


class Ice(Msg):
    type: Literal["ice"]
    target: Literal["publisher", "subscriber"]
    candidate: IceCandidate


class SubscriptionQuality(Msg):
    type: Literal["subscription.quality"]
    participant_id: ParticipantId
    quality: Literal["high", "low", "off"]


# Interaction across classrooms (双师课堂): 随堂测, text messages, 签到 (rooms/classwork.py). ------------
QuizText = Annotated[str, Field(min_length=1, max_length=300)]
OptionText = Annotated[str, Field(min_length=1, max_length=80)]


class QuizPush(Msg):
    type: Literal["quiz.push"]
    kind: Literal["choice", "truefalse"]
    question: QuizText
    options: Annotated[list[OptionText], Field(default_factory=list, max_length=6)]
    correct: Annotated[int | None, Field(default=None, ge=0, le=5)]


class QuizClose(Msg):
    type: Literal["quiz.close"]
    quiz_id: Annotated[int, Field(ge=1)]


class QuizAnswer(Msg):
    type: Literal["quiz.answer"]
    quiz_id: Annotated[int, Field(ge=1)]
    counts: Annotated[list[Annotated[int, Field(ge=0, le=500)]] | None, Field(default=None, max_length=6)]
    choice: Annotated[int | None, Field(default=None, ge=0, le=5)]


class ChatSend(Msg):
    type: Literal["chat.send"]
    to: Annotated[str, Field(min_length=1, max_length=120)] = "all"  # all | teacher | a participant id
    text: Annotated[str, Field(min_length=1, max_length=500)]


class ChatDelete(Msg):
    type: Literal["chat.delete"]
    message_id: Annotated[int, Field(ge=1)]


class CheckinHeadcount(Msg):
    type: Literal["checkin.headcount"]
    present: Annotated[int, Field(ge=0, le=500)]


class LessonState(Msg):
    type: Literal["lesson.state"]


CLASSWORK_MESSAGES = (QuizPush, QuizClose, QuizAnswer, ChatSend, ChatDelete, CheckinHeadcount, LessonState)


ClientMessage = Annotated[
    Join | Resume | Ping | Leave | HandRaise | HandLower | StageInvite | StageLeave | MuteRequest
    | ParticipantRemove | RoomStart | RoomEnd | PublishOffer | SubscriberAnswer | Ice | SubscriptionQuality
    | QuizPush | QuizClose | QuizAnswer | ChatSend | ChatDelete | CheckinHeadcount | LessonState,
    Field(discriminator="type"),
]
CLIENT_MESSAGE = TypeAdapter(ClientMessage)
MESSAGE_TYPES = frozenset(
    m.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
    for m in (
        Join, Resume, Ping, Leave, HandRaise, HandLower, StageInvite, StageLeave, MuteRequest,
        ParticipantRemove, RoomStart, RoomEnd, PublishOffer, SubscriberAnswer, Ice, SubscriptionQuality,
        *CLASSWORK_MESSAGES,
    )
)

# The grant each message needs beyond having joined. Checked on every message, not only at join.
REQUIRED_GRANT: dict[str, str] = {
    "hand.raise": "can_publish",
    "stage.invite": "room_admin",
    "mute.request": "room_admin",
    "participant.remove": "room_admin",
    "room.start": "room_admin",
    "room.end": "room_admin",
    "publish.offer": "can_publish",
    "subscriber.answer": "can_subscribe",
    "subscription.quality": "can_subscribe",
    "quiz.push": "room_admin",  # an observer or a classroom cannot push a quiz
    "quiz.close": "room_admin",
    "quiz.answer": "can_publish",
    "chat.delete": "room_admin",
    "checkin.headcount": "can_publish",
}


class ProtocolError(SankeError):
    """A message that fails size, depth, JSON, type or schema checks, or a request the session cannot serve."""

    def __init__(self, code: str, message: str, field: str | None = None, request_id: str | int | None = None) -> None:
        super().__init__(code, message, field)
        self.request_id = request_id  # the message's own id when it had a usable one, for the reply


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest, read without parsing (strings skipped), so that a deeply
    nested frame is refused before `json.loads` spends time or recursion on it."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    for b in _BRACKET.findall(_STRING.sub("", text)):
        depth += 1 if b in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def parse(raw: str | bytes) -> Msg:
    """Size, depth, JSON, type, schema — in that order, each failure naming what was wrong."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"message exceeds {MAX_MESSAGE_BYTES} bytes")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as e:
        raise ProtocolError("bad_json", f"not UTF-8 text: {e}") from e
    if nesting_depth(text) > MAX_DEPTH:
        raise ProtocolError("too_deep", f"JSON nests deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ProtocolError("bad_json", f"not valid JSON: {str(e)[:120]}") from e
    if not isinstance(data, dict):
        raise ProtocolError("invalid_field", "a message is a JSON object", "")
    rid = data.get("id")
    try:
        rid = _request_id(rid) if isinstance(rid, str | int) and not isinstance(rid, bool) else None
    except ValueError:
        rid = None
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_field", "message has no string 'type'", "type", rid)
    if kind not in MESSAGE_TYPES:
        raise ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}", "type", rid)
    try:
        return CLIENT_MESSAGE.validate_python(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = [str(p) for p in err["loc"][1:]]  # drop the discriminator tag
        raise ProtocolError("invalid_field", err["msg"], ".".join(loc) or "type", rid) from e


def error(code: str, message: str, field: str | None = None, request_id: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if field is not None:
        out["field"] = field
    if request_id is not None:
        out["id"] = request_id
    return out
