"""The events services send each other, one frozen dataclass each (docs/architecture.md §2).

A class is the whole contract of its event but for who receives it (shared/events.py
CONTRACTS): its `name`, its `version`, and its fields with their types. The outbox payload
is `dataclasses.asdict` of an instance; a consumer gets the instance back as `event.data`.
Payloads hold ids, never objects. Field types are `int`, `str` and `list[int]`, checked
exactly: a bool is not an int, "1" is not 1 (JSON keeps all three as they are).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass
from typing import Any, ClassVar


class ContractError(ValueError):
    """An event that does not match its contract."""


@dataclass(frozen=True)
class EventData:
    """Base of every event class; `name` and `version` are class attributes, not fields."""

    name: ClassVar[str]
    version: ClassVar[int] = 1


@dataclass(frozen=True)
class ResponseSubmitted(EventData):
    name: ClassVar[str] = "response.submitted"
    response_id: str
    wave_id: int
    alumnus_id: int


@dataclass(frozen=True)
class AlumniImported(EventData):
    name: ClassVar[str] = "alumni.imported"
    alumnus_ids: list[int]


@dataclass(frozen=True)
class WaveOpened(EventData):
    name: ClassVar[str] = "wave.opened"
    wave_id: int


@dataclass(frozen=True)
class WaveClosed(EventData):
    name: ClassVar[str] = "wave.closed"
    wave_id: int


@dataclass(frozen=True)
class WaveTargetsAdded(EventData):
    """Alumni added to an open wave after it opened (services/survey/waves.py add_targets)."""

    name: ClassVar[str] = "wave.targets_added"
    wave_id: int
    alumnus_ids: list[int]


@dataclass(frozen=True)
class InvitationRequested(EventData):
    """Staff asked to send one alumnus the invitation again, on a chosen channel
    (services/survey/followup.py request_invitation)."""

    name: ClassVar[str] = "invitation.requested"
    wave_id: int
    alumnus_id: int
    channel: str


@dataclass(frozen=True)
class AlumnusErased(EventData):
    """Data-subject rights (services/survey/privacy.py)."""

    name: ClassVar[str] = "alumnus.erased"
    alumnus_id: int


@dataclass(frozen=True)
class ConsentWithdrawn(EventData):
    name: ClassVar[str] = "alumnus.consent_withdrawn"
    alumnus_id: int


@dataclass(frozen=True)
class ChatOpened(EventData):
    """Staff opened a WhatsApp chat with the alumnus from the call list (outreach renders the
    text, services/outreach/chat.py; survey records the try, services/survey/call_list.py)."""

    name: ClassVar[str] = "contact.chat_opened"
    wave_id: int
    alumnus_id: int
    user_id: int


@dataclass(frozen=True)
class EmployerContactAdded(EventData):
    """An alumnus named their supervisor and consented that the centre ask them: the contact
    may now be written to (services/survey/supervisors.py). Sent once per consent stored,
    so a supervisor of two alumni is announced twice; the consumer keeps one recipient."""

    name: ClassVar[str] = "employer.contact_added"
    contact_id: int
    employer_id: int
    alumnus_id: int
    wave_id: int


@dataclass(frozen=True)
class EmployerAnswersSubmitted(EventData):
    """A contact gave their company's answers in a wave (services/survey/employer_link_pages.py):
    outreach stops that contact's reminders of the wave. Sent at each submission."""

    name: ClassVar[str] = "employer.answers_submitted"
    contact_id: int
    employer_id: int
    wave_id: int


@dataclass(frozen=True)
class EmployerContactErased(EventData):
    """An admin erased a contact on request (services/survey/employer_privacy.py): outreach
    forgets them and stops what is pending for them."""

    name: ClassVar[str] = "employer.contact_erased"
    contact_id: int


@dataclass(frozen=True)
class MessageStatus(EventData):
    """A message sent, delivered or failed (services/outreach/delivery.py)."""

    name: ClassVar[str] = "message.status"
    message_id: int
    alumnus_id: int
    status: str


@functools.cache
def field_types(cls: type[EventData]) -> dict[str, Any]:
    """The fields of an event class and their types, in declaration order (cached: resolving
    the annotations costs tens of microseconds, and intake publishes on every answer)."""
    hints = typing.get_type_hints(cls)
    return {field.name: hints[field.name] for field in dataclasses.fields(cls)}


def _is(value: Any, kind: Any) -> bool:
    if kind is int:
        return type(value) is int  # bool is a subclass of int, and not an id
    if kind is str:
        return isinstance(value, str)
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind)
        return isinstance(value, list) and all(_is(element, item) for element in value)
    raise TypeError(f"event fields are int, str or list[int], not {kind!r}")


def _type_name(kind: Any) -> str:
    return kind.__name__ if isinstance(kind, type) else str(kind)


def check(cls: type[EventData], payload: dict[str, Any]) -> None:
    """Raise ContractError, naming the field, unless `payload` has exactly the class's
    fields with their types."""
    types = field_types(cls)
    missing = types.keys() - payload.keys()
    extra = payload.keys() - types.keys()
    if missing or extra:
        raise ContractError(f"{cls.name}: missing {sorted(missing)}, unexpected {sorted(extra)}")
    for name, kind in types.items():
        if not _is(payload[name], kind):
            raise ContractError(f"{cls.name}: field {name!r} must be {_type_name(kind)}, "
                                f"not {payload[name]!r}")


def parse(cls: type[EventData], payload: dict[str, Any]) -> EventData:
    """The instance a checked payload describes."""
    check(cls, payload)
    return cls(**payload)


def payload_of(data: EventData) -> dict[str, Any]:
    """The outbox payload of an instance, checked (a dataclass does not enforce its types)."""
    payload = dataclasses.asdict(data)
    check(type(data), payload)
    return payload
