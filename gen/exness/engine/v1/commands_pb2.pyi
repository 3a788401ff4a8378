from exness.common.v1 import trading_pb2 as _trading_pb2
from exness.engine.v1 import orders_pb2 as _orders_pb2
from exness.market.v1 import market_pb2 as _market_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RejectReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECT_REASON_UNSPECIFIED: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_COMMAND: _ClassVar[RejectReason]
    REJECT_REASON_ACCOUNT_NOT_FOUND: _ClassVar[RejectReason]
    REJECT_REASON_UNKNOWN_ASSET: _ClassVar[RejectReason]
    REJECT_REASON_PRICE_UNAVAILABLE: _ClassVar[RejectReason]
    REJECT_REASON_PRICE_STALE: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_QUANTITY: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_LEVERAGE: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_SLIPPAGE: _ClassVar[RejectReason]
    REJECT_REASON_SLIPPAGE_EXCEEDED: _ClassVar[RejectReason]
    REJECT_REASON_INSUFFICIENT_BALANCE: _ClassVar[RejectReason]
    REJECT_REASON_IMMEDIATE_LIQUIDATION: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_STOP_LOSS: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_TAKE_PROFIT: _ClassVar[RejectReason]
    REJECT_REASON_POSITION_NOT_FOUND: _ClassVar[RejectReason]
    REJECT_REASON_IDEMPOTENCY_KEY_REUSED: _ClassVar[RejectReason]
    REJECT_REASON_ACCOUNT_CONFLICT: _ClassVar[RejectReason]
    REJECT_REASON_ENGINE_FAULT: _ClassVar[RejectReason]
    REJECT_REASON_TOO_MANY_POSITIONS: _ClassVar[RejectReason]
    REJECT_REASON_TOO_MANY_ORDERS: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_ORDER_PRICE: _ClassVar[RejectReason]
    REJECT_REASON_ORDER_WRONG_SIDE: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_EXPIRY: _ClassVar[RejectReason]
    REJECT_REASON_ORDER_NOT_FOUND: _ClassVar[RejectReason]
    REJECT_REASON_ORDER_NOT_PENDING: _ClassVar[RejectReason]
REJECT_REASON_UNSPECIFIED: RejectReason
REJECT_REASON_INVALID_COMMAND: RejectReason
REJECT_REASON_ACCOUNT_NOT_FOUND: RejectReason
REJECT_REASON_UNKNOWN_ASSET: RejectReason
REJECT_REASON_PRICE_UNAVAILABLE: RejectReason
REJECT_REASON_PRICE_STALE: RejectReason
REJECT_REASON_INVALID_QUANTITY: RejectReason
REJECT_REASON_INVALID_LEVERAGE: RejectReason
REJECT_REASON_INVALID_SLIPPAGE: RejectReason
REJECT_REASON_SLIPPAGE_EXCEEDED: RejectReason
REJECT_REASON_INSUFFICIENT_BALANCE: RejectReason
REJECT_REASON_IMMEDIATE_LIQUIDATION: RejectReason
REJECT_REASON_INVALID_STOP_LOSS: RejectReason
REJECT_REASON_INVALID_TAKE_PROFIT: RejectReason
REJECT_REASON_POSITION_NOT_FOUND: RejectReason
REJECT_REASON_IDEMPOTENCY_KEY_REUSED: RejectReason
REJECT_REASON_ACCOUNT_CONFLICT: RejectReason
REJECT_REASON_ENGINE_FAULT: RejectReason
REJECT_REASON_TOO_MANY_POSITIONS: RejectReason
REJECT_REASON_TOO_MANY_ORDERS: RejectReason
REJECT_REASON_INVALID_ORDER_PRICE: RejectReason
REJECT_REASON_ORDER_WRONG_SIDE: RejectReason
REJECT_REASON_INVALID_EXPIRY: RejectReason
REJECT_REASON_ORDER_NOT_FOUND: RejectReason
REJECT_REASON_ORDER_NOT_PENDING: RejectReason

class Command(_message.Message):
    __slots__ = ("request_id", "reply_to", "idempotency_key", "user_id", "create_account", "open_position", "close_position", "price_update", "change_rules", "amend_position", "place_order", "cancel_order")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    OPEN_POSITION_FIELD_NUMBER: _ClassVar[int]
    CLOSE_POSITION_FIELD_NUMBER: _ClassVar[int]
    PRICE_UPDATE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_RULES_FIELD_NUMBER: _ClassVar[int]
    AMEND_POSITION_FIELD_NUMBER: _ClassVar[int]
    PLACE_ORDER_FIELD_NUMBER: _ClassVar[int]
    CANCEL_ORDER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    reply_to: str
    idempotency_key: str
    user_id: str
    create_account: CreateAccount
    open_position: OpenPosition
    close_position: ClosePosition
    price_update: _market_pb2.PriceUpdate
    change_rules: ChangeRules
    amend_position: AmendPosition
    place_order: PlaceOrder
    cancel_order: CancelOrder
    def __init__(self, request_id: _Optional[str] = ..., reply_to: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., user_id: _Optional[str] = ..., create_account: _Optional[_Union[CreateAccount, _Mapping]] = ..., open_position: _Optional[_Union[OpenPosition, _Mapping]] = ..., close_position: _Optional[_Union[ClosePosition, _Mapping]] = ..., price_update: _Optional[_Union[_market_pb2.PriceUpdate, _Mapping]] = ..., change_rules: _Optional[_Union[ChangeRules, _Mapping]] = ..., amend_position: _Optional[_Union[AmendPosition, _Mapping]] = ..., place_order: _Optional[_Union[PlaceOrder, _Mapping]] = ..., cancel_order: _Optional[_Union[CancelOrder, _Mapping]] = ...) -> None: ...

class ChangeRules(_message.Message):
    __slots__ = ("rules_json",)
    RULES_JSON_FIELD_NUMBER: _ClassVar[int]
    rules_json: str
    def __init__(self, rules_json: _Optional[str] = ...) -> None: ...

class CreateAccount(_message.Message):
    __slots__ = ("email", "starting_balance_cents")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    STARTING_BALANCE_CENTS_FIELD_NUMBER: _ClassVar[int]
    email: str
    starting_balance_cents: int
    def __init__(self, email: _Optional[str] = ..., starting_balance_cents: _Optional[int] = ...) -> None: ...

class OpenPosition(_message.Message):
    __slots__ = ("asset", "side", "quantity", "leverage", "slippage_bps", "stop_loss", "take_profit", "trade_opening_price", "price_decimal")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LEVERAGE_FIELD_NUMBER: _ClassVar[int]
    SLIPPAGE_BPS_FIELD_NUMBER: _ClassVar[int]
    STOP_LOSS_FIELD_NUMBER: _ClassVar[int]
    TAKE_PROFIT_FIELD_NUMBER: _ClassVar[int]
    TRADE_OPENING_PRICE_FIELD_NUMBER: _ClassVar[int]
    PRICE_DECIMAL_FIELD_NUMBER: _ClassVar[int]
    asset: str
    side: _trading_pb2.Side
    quantity: int
    leverage: int
    slippage_bps: int
    stop_loss: int
    take_profit: int
    trade_opening_price: int
    price_decimal: int
    def __init__(self, asset: _Optional[str] = ..., side: _Optional[_Union[_trading_pb2.Side, str]] = ..., quantity: _Optional[int] = ..., leverage: _Optional[int] = ..., slippage_bps: _Optional[int] = ..., stop_loss: _Optional[int] = ..., take_profit: _Optional[int] = ..., trade_opening_price: _Optional[int] = ..., price_decimal: _Optional[int] = ...) -> None: ...

class ClosePosition(_message.Message):
    __slots__ = ("position_id", "quantity")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    quantity: int
    def __init__(self, position_id: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class AmendPosition(_message.Message):
    __slots__ = ("position_id", "stop_loss", "take_profit", "price_decimal")
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    STOP_LOSS_FIELD_NUMBER: _ClassVar[int]
    TAKE_PROFIT_FIELD_NUMBER: _ClassVar[int]
    PRICE_DECIMAL_FIELD_NUMBER: _ClassVar[int]
    position_id: str
    stop_loss: int
    take_profit: int
    price_decimal: int
    def __init__(self, position_id: _Optional[str] = ..., stop_loss: _Optional[int] = ..., take_profit: _Optional[int] = ..., price_decimal: _Optional[int] = ...) -> None: ...

class Reply(_message.Message):
    __slots__ = ("request_id", "stream_id", "account_created", "position_opened", "position_closed", "rejection", "position_amended", "order_placed", "order_cancelled")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_CREATED_FIELD_NUMBER: _ClassVar[int]
    POSITION_OPENED_FIELD_NUMBER: _ClassVar[int]
    POSITION_CLOSED_FIELD_NUMBER: _ClassVar[int]
    REJECTION_FIELD_NUMBER: _ClassVar[int]
    POSITION_AMENDED_FIELD_NUMBER: _ClassVar[int]
    ORDER_PLACED_FIELD_NUMBER: _ClassVar[int]
    ORDER_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    stream_id: str
    account_created: AccountCreated
    position_opened: PositionOpened
    position_closed: PositionClosed
    rejection: Rejection
    position_amended: PositionAmended
    order_placed: OrderPlaced
    order_cancelled: OrderCancelled
    def __init__(self, request_id: _Optional[str] = ..., stream_id: _Optional[str] = ..., account_created: _Optional[_Union[AccountCreated, _Mapping]] = ..., position_opened: _Optional[_Union[PositionOpened, _Mapping]] = ..., position_closed: _Optional[_Union[PositionClosed, _Mapping]] = ..., rejection: _Optional[_Union[Rejection, _Mapping]] = ..., position_amended: _Optional[_Union[PositionAmended, _Mapping]] = ..., order_placed: _Optional[_Union[OrderPlaced, _Mapping]] = ..., order_cancelled: _Optional[_Union[OrderCancelled, _Mapping]] = ...) -> None: ...

class AccountCreated(_message.Message):
    __slots__ = ("account", "already_existed")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ALREADY_EXISTED_FIELD_NUMBER: _ClassVar[int]
    account: _trading_pb2.Account
    already_existed: bool
    def __init__(self, account: _Optional[_Union[_trading_pb2.Account, _Mapping]] = ..., already_existed: _Optional[bool] = ...) -> None: ...

class PositionOpened(_message.Message):
    __slots__ = ("position", "balance_cents", "current_price", "unrealized_pnl_cents")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    BALANCE_CENTS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PRICE_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_PNL_CENTS_FIELD_NUMBER: _ClassVar[int]
    position: _trading_pb2.Position
    balance_cents: int
    current_price: int
    unrealized_pnl_cents: int
    def __init__(self, position: _Optional[_Union[_trading_pb2.Position, _Mapping]] = ..., balance_cents: _Optional[int] = ..., current_price: _Optional[int] = ..., unrealized_pnl_cents: _Optional[int] = ...) -> None: ...

class PositionClosed(_message.Message):
    __slots__ = ("trade", "balance_cents", "remaining", "remaining_current_price", "remaining_unrealized_pnl_cents")
    TRADE_FIELD_NUMBER: _ClassVar[int]
    BALANCE_CENTS_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    REMAINING_CURRENT_PRICE_FIELD_NUMBER: _ClassVar[int]
    REMAINING_UNREALIZED_PNL_CENTS_FIELD_NUMBER: _ClassVar[int]
    trade: _trading_pb2.ClosedTrade
    balance_cents: int
    remaining: _trading_pb2.Position
    remaining_current_price: int
    remaining_unrealized_pnl_cents: int
    def __init__(self, trade: _Optional[_Union[_trading_pb2.ClosedTrade, _Mapping]] = ..., balance_cents: _Optional[int] = ..., remaining: _Optional[_Union[_trading_pb2.Position, _Mapping]] = ..., remaining_current_price: _Optional[int] = ..., remaining_unrealized_pnl_cents: _Optional[int] = ...) -> None: ...

class PositionAmended(_message.Message):
    __slots__ = ("position", "balance_cents", "current_price", "unrealized_pnl_cents")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    BALANCE_CENTS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PRICE_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_PNL_CENTS_FIELD_NUMBER: _ClassVar[int]
    position: _trading_pb2.Position
    balance_cents: int
    current_price: int
    unrealized_pnl_cents: int
    def __init__(self, position: _Optional[_Union[_trading_pb2.Position, _Mapping]] = ..., balance_cents: _Optional[int] = ..., current_price: _Optional[int] = ..., unrealized_pnl_cents: _Optional[int] = ...) -> None: ...

class Rejection(_message.Message):
    __slots__ = ("reason", "message")
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    reason: RejectReason
    message: str
    def __init__(self, reason: _Optional[_Union[RejectReason, str]] = ..., message: _Optional[str] = ...) -> None: ...

class OrderRecord(_message.Message):
    __slots__ = ("order", "status", "finished_at_ms", "position_id", "fill_price", "reject_reason", "message")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    POSITION_ID_FIELD_NUMBER: _ClassVar[int]
    FILL_PRICE_FIELD_NUMBER: _ClassVar[int]
    REJECT_REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    order: _orders_pb2.PendingOrder
    status: _orders_pb2.OrderStatus
    finished_at_ms: int
    position_id: str
    fill_price: int
    reject_reason: RejectReason
    message: str
    def __init__(self, order: _Optional[_Union[_orders_pb2.PendingOrder, _Mapping]] = ..., status: _Optional[_Union[_orders_pb2.OrderStatus, str]] = ..., finished_at_ms: _Optional[int] = ..., position_id: _Optional[str] = ..., fill_price: _Optional[int] = ..., reject_reason: _Optional[_Union[RejectReason, str]] = ..., message: _Optional[str] = ...) -> None: ...

class PlaceOrder(_message.Message):
    __slots__ = ("asset", "side", "type", "price", "quantity", "leverage", "stop_loss", "take_profit", "expires_at_ms", "price_decimal")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LEVERAGE_FIELD_NUMBER: _ClassVar[int]
    STOP_LOSS_FIELD_NUMBER: _ClassVar[int]
    TAKE_PROFIT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    PRICE_DECIMAL_FIELD_NUMBER: _ClassVar[int]
    asset: str
    side: _trading_pb2.Side
    type: _orders_pb2.OrderType
    price: int
    quantity: int
    leverage: int
    stop_loss: int
    take_profit: int
    expires_at_ms: int
    price_decimal: int
    def __init__(self, asset: _Optional[str] = ..., side: _Optional[_Union[_trading_pb2.Side, str]] = ..., type: _Optional[_Union[_orders_pb2.OrderType, str]] = ..., price: _Optional[int] = ..., quantity: _Optional[int] = ..., leverage: _Optional[int] = ..., stop_loss: _Optional[int] = ..., take_profit: _Optional[int] = ..., expires_at_ms: _Optional[int] = ..., price_decimal: _Optional[int] = ...) -> None: ...

class CancelOrder(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class OrderPlaced(_message.Message):
    __slots__ = ("order", "balance_cents")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    BALANCE_CENTS_FIELD_NUMBER: _ClassVar[int]
    order: _orders_pb2.PendingOrder
    balance_cents: int
    def __init__(self, order: _Optional[_Union[_orders_pb2.PendingOrder, _Mapping]] = ..., balance_cents: _Optional[int] = ...) -> None: ...

class OrderCancelled(_message.Message):
    __slots__ = ("order", "balance_cents")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    BALANCE_CENTS_FIELD_NUMBER: _ClassVar[int]
    order: OrderRecord
    balance_cents: int
    def __init__(self, order: _Optional[_Union[OrderRecord, _Mapping]] = ..., balance_cents: _Optional[int] = ...) -> None: ...
