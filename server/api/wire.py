"""What a request must be before any handler sees it, whatever the RPC.

Two rules hold for every request message of ours, so they are checked once,
generically, by the guard (server/api/guard.py), and a new RPC gets them
without a line of its own:

- It decodes. grpc answers UNKNOWN, with the Python exception's name, when a
  deserializer raises, so ours never does: bytes that are not a message of the
  request's type (a string field with invalid UTF-8, messages nested deeper
  than protobuf's limit of 100) become an `Undecodable` that the guard answers
  with INVALID_ARGUMENT.
- Its strings can be stored. PostgreSQL's text and jsonb refuse NUL (U+0000),
  which protobuf strings may carry; every string field, repeated field and map
  entry is checked, and each one holding a NUL is named. A Struct (the
  `payload` of RecordAlertEvent) is left to the domain, which checks it as a
  JSON value (server/domain/validation.py) and names paths inside it.

Both are found while the bytes are decoded, and reported by the guard only
once the caller is authenticated. A string's NUL is a zero byte of the wire
form (protobuf strings are UTF-8, which writes U+0000 as the one byte 0x00),
so a request whose bytes hold no zero byte, as most do, is not walked at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from google.protobuf import message as protobuf_message
from google.protobuf.descriptor import FieldDescriptor

from server.domain.validation import MAX_VIOLATIONS, key_path

# Checked by the domain as JSON values, with paths of their own.
_JSON_MESSAGES = frozenset(
    {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}
)


@dataclass(frozen=True)
class Undecodable:
    """Stands in for a request whose bytes did not decode; `problem` is
    protobuf's own description (it never quotes the bytes)."""

    problem: str


@dataclass(frozen=True)
class HoldsNul:
    """Stands in for a request with NUL in its strings; `paths` names them
    (at most MAX_VIOLATIONS)."""

    paths: tuple[str, ...]


def tolerant(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """`deserialize`, returning an Undecodable instead of raising, and a
    HoldsNul instead of a message that cannot be stored."""
    if deserialize is None:
        return None

    def parse(raw: bytes) -> Any:
        try:
            message = deserialize(raw)
        except protobuf_message.DecodeError as error:
            return Undecodable(str(error).rpartition(": ")[2] or "not a valid message")
        if b"\x00" in raw:
            paths = tuple(islice(nul_fields(message), MAX_VIOLATIONS))
            if paths:
                return HoldsNul(paths)
        return message

    return parse


def nul_fields(message: protobuf_message.Message, prefix: str = "") -> Iterator[str]:
    """The path of every string in `message` that holds a NUL character."""
    for field, value in message.ListFields():
        name = f"{prefix}{field.name}"
        if field.type == FieldDescriptor.TYPE_STRING:
            values = value if _is_repeated(field) else [value]
            for index, text in enumerate(values):
                if "\x00" in text:
                    yield f"{name}[{index}]" if _is_repeated(field) else name
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            message_type = field.message_type
            assert message_type is not None  # a message field has a message type
            if message_type.full_name in _JSON_MESSAGES:
                continue
            if message_type.GetOptions().map_entry:
                yield from _nul_map_entries(field, value, name)
            elif _is_repeated(field):
                for index, item in enumerate(value):
                    yield from nul_fields(item, f"{name}[{index}].")
            else:
                yield from nul_fields(value, f"{name}.")


def _nul_map_entries(field: FieldDescriptor, entries: Any, name: str) -> Iterator[str]:
    entry_type = field.message_type
    assert entry_type is not None  # a map field has an entry type
    value_field = entry_type.fields_by_name["value"]
    for key, value in entries.items():
        label = f"{name}[{key_path(str(key))}]"
        if isinstance(key, str) and "\x00" in key:
            yield f"{label} (key)"
        elif value_field.type == FieldDescriptor.TYPE_STRING and "\x00" in value:
            yield label
        elif value_field.type == FieldDescriptor.TYPE_MESSAGE:
            yield from nul_fields(value, f"{label}.")


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)
