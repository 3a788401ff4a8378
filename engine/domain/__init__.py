"""Pure trading rules of the platform (docs/contract.md §1-4): commands in, replies and closed trades out,
exact integer money, deterministic state with a stable hash and a JSON-ready snapshot.

No I/O, no protobuf, no asyncio, no clock, no randomness, no floats: only the standard library,
sortedcontainers and the stdlib-only units module `mesh.units`. The engine service translates protobuf
to these types and feeds `TradingState.apply` one stream entry at a time."""

from engine.domain.capture import StateCapture
from engine.domain.commands import (
    AccountCreated,
    AmendPosition,
    ChangeRules,
    ClosePosition,
    Command,
    CreateAccount,
    OpenPosition,
    Outcome,
    PositionAmended,
    PositionClosed,
    PositionOpened,
    PriceUpdate,
    Quote,
    Rejection,
    Reply,
    UserCommand,
)
from engine.domain.model import (
    Account,
    AccountSummary,
    ClosedTrade,
    CloseReason,
    LatestQuote,
    Position,
    RejectReason,
    Side,
    Valuation,
)
from engine.domain.rules import Rules, decode_rules, default_rules, encode_rules
from engine.domain.state import CAPTURE_SLICE, TradingState
from mesh.units import AssetSpec

__all__ = [
    "CAPTURE_SLICE",
    "Account",
    "AccountCreated",
    "AccountSummary",
    "AmendPosition",
    "AssetSpec",
    "ChangeRules",
    "ClosePosition",
    "CloseReason",
    "ClosedTrade",
    "Command",
    "CreateAccount",
    "LatestQuote",
    "OpenPosition",
    "Outcome",
    "Position",
    "PositionAmended",
    "PositionClosed",
    "PositionOpened",
    "PriceUpdate",
    "Quote",
    "RejectReason",
    "Rejection",
    "Reply",
    "Rules",
    "Side",
    "StateCapture",
    "TradingState",
    "UserCommand",
    "Valuation",
    "decode_rules",
    "default_rules",
    "encode_rules",
]
