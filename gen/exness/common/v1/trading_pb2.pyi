from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Side(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIDE_UNSPECIFIED: _ClassVar[Side]
    SIDE_LONG: _ClassVar[Side]
    SIDE_SHORT: _ClassVar[Side]

class CloseReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLOSE_REASON_UNSPECIFIED: _ClassVar[CloseReason]
    CLOSE_REASON_MANUAL: _ClassVar[CloseReason]
    CLOSE_REASON_STOP_LOSS: _ClassVar[CloseReason]
    CLOSE_REASON_TAKE_PROFIT: _ClassVar[CloseReason]
    CLOSE_REASON_LIQUIDATION: _ClassVar[CloseReason]
SIDE_UNSPECIFIED: Side
SIDE_LONG: Side
SIDE_SHORT: Side
CLOSE_REASON_UNSPECIFIED: CloseReason
CLOSE_REASON_MANUAL: CloseReason
CLOSE_REASON_STOP_LOSS: CloseReason
CLOSE_REASON_TAKE_PROFIT: CloseReason
CLOSE_REASON_LIQUIDATION: CloseReason

class Account(_message.Message):
    __slots__ = ("user_id", "email", "balance_cents", "created_at_ms")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    BALANCE_CENTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    email: str
    balance_cents: int
    created_at_ms: int
    def __init__(self, user_id: _Optional[str] = ..., email: _Optional[str] = ..., balance_cents: _Optional[int] = ..., created_at_ms: _Optional[int] = ...) -> None: ...

class Position(_message.Message):
    __slots__ = ("id", "user_id", "asset", "side", "quantity", "leverage", "entry_price", "margin_cents", "liquidation_price", "stop_loss", "take_profit", "decimal", "opened_at_ms", "maintenance_cents")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LEVERAGE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_PRICE_FIELD_NUMBER: _ClassVar[int]
    MARGIN_CENTS_FIELD_NUMBER: _ClassVar[int]
    LIQUIDATION_PRICE_FIELD_NUMBER: _ClassVar[int]
    STOP_LOSS_FIELD_NUMBER: _ClassVar[int]
    TAKE_PROFIT_FIELD_NUMBER: _ClassVar[int]
    DECIMAL_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    MAINTENANCE_CENTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    asset: str
    side: Side
    quantity: int
    leverage: int
    entry_price: int
    margin_cents: int
    liquidation_price: int
    stop_loss: int
    take_profit: int
    decimal: int
    opened_at_ms: int
    maintenance_cents: int
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., asset: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., quantity: _Optional[int] = ..., leverage: _Optional[int] = ..., entry_price: _Optional[int] = ..., margin_cents: _Optional[int] = ..., liquidation_price: _Optional[int] = ..., stop_loss: _Optional[int] = ..., take_profit: _Optional[int] = ..., decimal: _Optional[int] = ..., opened_at_ms: _Optional[int] = ..., maintenance_cents: _Optional[int] = ...) -> None: ...

class ClosedTrade(_message.Message):
    __slots__ = ("id", "user_id", "asset", "side", "quantity", "leverage", "entry_price", "close_price", "margin_cents", "pnl_cents", "credited_cents", "reason", "decimal", "opened_at_ms", "closed_at_ms", "stop_loss", "take_profit", "liquidation_price")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LEVERAGE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_PRICE_FIELD_NUMBER: _ClassVar[int]
    CLOSE_PRICE_FIELD_NUMBER: _ClassVar[int]
    MARGIN_CENTS_FIELD_NUMBER: _ClassVar[int]
    PNL_CENTS_FIELD_NUMBER: _ClassVar[int]
    CREDITED_CENTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DECIMAL_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    STOP_LOSS_FIELD_NUMBER: _ClassVar[int]
    TAKE_PROFIT_FIELD_NUMBER: _ClassVar[int]
    LIQUIDATION_PRICE_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    asset: str
    side: Side
    quantity: int
    leverage: int
    entry_price: int
    close_price: int
    margin_cents: int
    pnl_cents: int
    credited_cents: int
    reason: CloseReason
    decimal: int
    opened_at_ms: int
    closed_at_ms: int
    stop_loss: int
    take_profit: int
    liquidation_price: int
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., asset: _Optional[str] = ..., side: _Optional[_Union[Side, str]] = ..., quantity: _Optional[int] = ..., leverage: _Optional[int] = ..., entry_price: _Optional[int] = ..., close_price: _Optional[int] = ..., margin_cents: _Optional[int] = ..., pnl_cents: _Optional[int] = ..., credited_cents: _Optional[int] = ..., reason: _Optional[_Union[CloseReason, str]] = ..., decimal: _Optional[int] = ..., opened_at_ms: _Optional[int] = ..., closed_at_ms: _Optional[int] = ..., stop_loss: _Optional[int] = ..., take_profit: _Optional[int] = ..., liquidation_price: _Optional[int] = ...) -> None: ...
