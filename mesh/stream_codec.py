"""The stream codec: `Command` protobuf <-> Redis stream entry fields, and PriceUpdate <-> pub/sub bytes.

An entry on `stream:engine` has two fields (docs/contract.md §6.1): `type`, a readable name for people using
redis-cli, and `payload`, one serialized `exness.engine.v1.Command`. Decoding checks that both agree, so
garbage is refused with a clear `CodecError`, never a crash or a half-read command."""

from __future__ import annotations

from collections.abc import Mapping

from exness.engine.v1 import commands_pb2
from exness.market.v1 import market_pb2
from google.protobuf.message import DecodeError

# oneof field of Command.body -> the entry's `type` field
ENTRY_TYPES: dict[str, str] = {
    "create_account": "CREATE_ACCOUNT",
    "open_position": "CREATE_ORDER",
    "close_position": "CLOSE_ORDER",
    "price_update": "PRICE_UPDATE",
    "amend_position": "AMEND_ORDER",
    "place_order": "PLACE_PENDING_ORDER",
    "cancel_order": "CANCEL_PENDING_ORDER",
    # written by the engine itself: the trading rules in force from this entry on
    "change_rules": "CHANGE_RULES",
}
_BODY_BY_TYPE = {entry_type: body for body, entry_type in ENTRY_TYPES.items()}

MAX_PAYLOAD_BYTES = 1 << 20


class CodecError(ValueError):
    """A stream entry or message that is not a well-formed command."""


def entry_type(command: commands_pb2.Command) -> str:
    body = command.WhichOneof("body")
    if body is None:
        raise CodecError("command has no body")
    return ENTRY_TYPES[body]


def encode_command(command: commands_pb2.Command) -> dict[str, bytes]:
    """Fields for XADD."""
    return {"type": entry_type(command).encode(), "payload": command.SerializeToString()}


# what redis-py hands back for an entry: bytes keys and values (str keys are accepted too)
EntryFields = Mapping[bytes, bytes] | Mapping[str, bytes] | Mapping[bytes | str, bytes | str]


def _field(fields: EntryFields, name: str) -> bytes:
    value = fields.get(name.encode(), fields.get(name))  # type: ignore[call-overload]
    if value is None:
        raise CodecError(f"entry has no {name!r} field (fields: {sorted(str(k) for k in fields)[:8]})")
    return value.encode() if isinstance(value, str) else bytes(value)


def decode_entry(fields: EntryFields) -> commands_pb2.Command:
    """Parse a stream entry's fields into a Command; raises CodecError on anything malformed."""
    type_name = _field(fields, "type").decode("utf-8", "replace")
    payload = _field(fields, "payload")
    expected_body = _BODY_BY_TYPE.get(type_name)
    if expected_body is None:
        raise CodecError(f"unknown entry type {type_name[:64]!r}; expected one of {sorted(_BODY_BY_TYPE)}")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise CodecError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    command = commands_pb2.Command()
    try:
        command.ParseFromString(payload)
    except DecodeError as exc:
        raise CodecError(f"payload of {type_name} entry is not a Command protobuf: {exc}") from None
    body = command.WhichOneof("body")
    if body != expected_body:
        raise CodecError(f"entry type {type_name} does not match the payload's body ({body or 'none'})")
    return command


def encode_price_update(update: market_pb2.PriceUpdate) -> bytes:
    data: bytes = update.SerializeToString()
    return data


def decode_price_update(data: bytes) -> market_pb2.PriceUpdate:
    """Parse a pub/sub message; raises CodecError on bytes that are not a PriceUpdate."""
    update = market_pb2.PriceUpdate()
    try:
        update.ParseFromString(data)
    except DecodeError as exc:
        raise CodecError(f"not a PriceUpdate protobuf: {exc}") from None
    return update
