from exness.common.v1 import trading_pb2 as _trading_pb2
from exness.engine.v1 import commands_pb2 as _commands_pb2
from exness.engine.v1 import orders_pb2 as _orders_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccountEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_EVENT_KIND_UNSPECIFIED: _ClassVar[AccountEventKind]
    ACCOUNT_EVENT_KIND_POSITION_OPENED: _ClassVar[AccountEventKind]
    ACCOUNT_EVENT_KIND_POSITION_CLOSED: _ClassVar[AccountEventKind]
    ACCOUNT_EVENT_KIND_POSITION_UPDATED: _ClassVar[AccountEventKind]
    ACCOUNT_EVENT_KIND_BALANCE: _ClassVar[AccountEventKind]
    ACCOUNT_EVENT_KIND_ORDER_ACCEPTED: _ClassVar[AccountEventKind]
    ACCOUNT_EVENT_KIND_ORDER_FILLED: _ClassVar[AccountEventKind]
    ACCOUNT_EVENT_KIND_ORDER_CANCELLED: _ClassVar[AccountEventKind]
    ACCOUNT_EVENT_KIND_ORDER_EXPIRED: _ClassVar[AccountEventKind]
    ACCOUNT_EVENT_KIND_ORDER_REJECTED: _ClassVar[AccountEventKind]

class BalanceCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BALANCE_CAUSE_UNSPECIFIED: _ClassVar[BalanceCause]
    BALANCE_CAUSE_DEPOSIT: _ClassVar[BalanceCause]
    BALANCE_CAUSE_MARGIN_LOCKED: _ClassVar[BalanceCause]
    BALANCE_CAUSE_POSITION_CLOSED: _ClassVar[BalanceCause]
    BALANCE_CAUSE_PARTIAL_CLOSE: _ClassVar[BalanceCause]
    BALANCE_CAUSE_ORDER_RESERVED: _ClassVar[BalanceCause]
    BALANCE_CAUSE_ORDER_RELEASED: _ClassVar[BalanceCause]

class PositionChange(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POSITION_CHANGE_UNSPECIFIED: _ClassVar[PositionChange]
    POSITION_CHANGE_LEVELS: _ClassVar[PositionChange]
    POSITION_CHANGE_PARTIAL_CLOSE: _ClassVar[PositionChange]
ACCOUNT_EVENT_KIND_UNSPECIFIED: AccountEventKind
ACCOUNT_EVENT_KIND_POSITION_OPENED: AccountEventKind
ACCOUNT_EVENT_KIND_POSITION_CLOSED: AccountEventKind
ACCOUNT_EVENT_KIND_POSITION_UPDATED: AccountEventKind
ACCOUNT_EVENT_KIND_BALANCE: AccountEventKind
ACCOUNT_EVENT_KIND_ORDER_ACCEPTED: AccountEventKind
ACCOUNT_EVENT_KIND_ORDER_FILLED: AccountEventKind
ACCOUNT_EVENT_KIND_ORDER_CANCELLED: AccountEventKind
ACCOUNT_EVENT_KIND_ORDER_EXPIRED: AccountEventKind
ACCOUNT_EVENT_KIND_ORDER_REJECTED: AccountEventKind
BALANCE_CAUSE_UNSPECIFIED: BalanceCause
BALANCE_CAUSE_DEPOSIT: BalanceCause
BALANCE_CAUSE_MARGIN_LOCKED: BalanceCause
BALANCE_CAUSE_POSITION_CLOSED: BalanceCause
BALANCE_CAUSE_PARTIAL_CLOSE: BalanceCause
BALANCE_CAUSE_ORDER_RESERVED: BalanceCause
BALANCE_CAUSE_ORDER_RELEASED: BalanceCause
POSITION_CHANGE_UNSPECIFIED: PositionChange
POSITION_CHANGE_LEVELS: PositionChange
POSITION_CHANGE_PARTIAL_CLOSE: PositionChange

class BalanceChange(_message.Message):
    __slots__ = ("cause", "amount_cents", "balance_cents", "reserved_cents", "used_margin_cents", "position_id", "order_id")
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_CENTS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_CENTS_FIELD_NUMBER: _ClassVar[int]
    RESERVED_CENTS_FIELD_NUMBER: _ClassVar[int]
    USED_MARGIN_CENTS_FIELD_NUMBER: _ClassVar[int]
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    cause: BalanceCause
    amount_cents: int
    balance_cents: int
    reserved_cents: int
    used_margin_cents: int
    position_id: str
    order_id: str
    def __init__(self, cause: _Optional[_Union[BalanceCause, str]] = ..., amount_cents: _Optional[int] = ..., balance_cents: _Optional[int] = ..., reserved_cents: _Optional[int] = ..., used_margin_cents: _Optional[int] = ..., position_id: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class PositionUpdate(_message.Message):
    __slots__ = ("change", "position", "closed_part")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CLOSED_PART_FIELD_NUMBER: _ClassVar[int]
    change: PositionChange
    position: _trading_pb2.Position
    closed_part: _trading_pb2.ClosedTrade
    def __init__(self, change: _Optional[_Union[PositionChange, str]] = ..., position: _Optional[_Union[_trading_pb2.Position, _Mapping]] = ..., closed_part: _Optional[_Union[_trading_pb2.ClosedTrade, _Mapping]] = ...) -> None: ...

class AccountEvent(_message.Message):
    __slots__ = ("user_id", "seq", "time_ms", "kind", "position_opened", "position_closed", "position_updated", "balance", "order_accepted", "order_ended")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    POSITION_OPENED_FIELD_NUMBER: _ClassVar[int]
    POSITION_CLOSED_FIELD_NUMBER: _ClassVar[int]
    POSITION_UPDATED_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    ORDER_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    ORDER_ENDED_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    seq: int
    time_ms: int
    kind: AccountEventKind
    position_opened: _trading_pb2.Position
    position_closed: _trading_pb2.ClosedTrade
    position_updated: PositionUpdate
    balance: BalanceChange
    order_accepted: _orders_pb2.PendingOrder
    order_ended: _commands_pb2.OrderRecord
    def __init__(self, user_id: _Optional[str] = ..., seq: _Optional[int] = ..., time_ms: _Optional[int] = ..., kind: _Optional[_Union[AccountEventKind, str]] = ..., position_opened: _Optional[_Union[_trading_pb2.Position, _Mapping]] = ..., position_closed: _Optional[_Union[_trading_pb2.ClosedTrade, _Mapping]] = ..., position_updated: _Optional[_Union[PositionUpdate, _Mapping]] = ..., balance: _Optional[_Union[BalanceChange, _Mapping]] = ..., order_accepted: _Optional[_Union[_orders_pb2.PendingOrder, _Mapping]] = ..., order_ended: _Optional[_Union[_commands_pb2.OrderRecord, _Mapping]] = ...) -> None: ...
