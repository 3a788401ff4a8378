from exness.common.v1 import trading_pb2 as _trading_pb2
from exness.engine.v1 import commands_pb2 as _commands_pb2
from exness.engine.v1 import events_pb2 as _events_pb2
from exness.engine.v1 import orders_pb2 as _orders_pb2
from exness.market.v1 import market_pb2 as _market_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StreamAccountEventsRequest(_message.Message):
    __slots__ = ("gateway_id",)
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    def __init__(self, gateway_id: _Optional[str] = ...) -> None: ...

class StreamAccountEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_events_pb2.AccountEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[_events_pb2.AccountEvent, _Mapping]]] = ...) -> None: ...

class ListAccountEventsRequest(_message.Message):
    __slots__ = ("user_id", "after_seq", "limit")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    after_seq: int
    limit: int
    def __init__(self, user_id: _Optional[str] = ..., after_seq: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListAccountEventsResponse(_message.Message):
    __slots__ = ("events", "resync", "more", "last_committed_seq")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    RESYNC_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    LAST_COMMITTED_SEQ_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_events_pb2.AccountEvent]
    resync: bool
    more: bool
    last_committed_seq: int
    def __init__(self, events: _Optional[_Iterable[_Union[_events_pb2.AccountEvent, _Mapping]]] = ..., resync: _Optional[bool] = ..., more: _Optional[bool] = ..., last_committed_seq: _Optional[int] = ...) -> None: ...

class ListStatementRequest(_message.Message):
    __slots__ = ("user_id", "page_size", "page_token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page_size: int
    page_token: str
    def __init__(self, user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStatementResponse(_message.Message):
    __slots__ = ("lines", "next_page_token")
    LINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[_events_pb2.AccountEvent]
    next_page_token: str
    def __init__(self, lines: _Optional[_Iterable[_Union[_events_pb2.AccountEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StreamRepliesRequest(_message.Message):
    __slots__ = ("gateway_id", "accepts_batches")
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTS_BATCHES_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    accepts_batches: bool
    def __init__(self, gateway_id: _Optional[str] = ..., accepts_batches: _Optional[bool] = ...) -> None: ...

class StreamRepliesResponse(_message.Message):
    __slots__ = ("reply", "replies")
    REPLY_FIELD_NUMBER: _ClassVar[int]
    REPLIES_FIELD_NUMBER: _ClassVar[int]
    reply: _commands_pb2.Reply
    replies: _containers.RepeatedCompositeFieldContainer[_commands_pb2.Reply]
    def __init__(self, reply: _Optional[_Union[_commands_pb2.Reply, _Mapping]] = ..., replies: _Optional[_Iterable[_Union[_commands_pb2.Reply, _Mapping]]] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetAccountResponse(_message.Message):
    __slots__ = ("account", "used_margin_cents", "unrealized_pnl_cents", "equity_cents", "open_positions", "reserved_margin_cents", "pending_orders")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    USED_MARGIN_CENTS_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_PNL_CENTS_FIELD_NUMBER: _ClassVar[int]
    EQUITY_CENTS_FIELD_NUMBER: _ClassVar[int]
    OPEN_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    RESERVED_MARGIN_CENTS_FIELD_NUMBER: _ClassVar[int]
    PENDING_ORDERS_FIELD_NUMBER: _ClassVar[int]
    account: _trading_pb2.Account
    used_margin_cents: int
    unrealized_pnl_cents: int
    equity_cents: int
    open_positions: int
    reserved_margin_cents: int
    pending_orders: int
    def __init__(self, account: _Optional[_Union[_trading_pb2.Account, _Mapping]] = ..., used_margin_cents: _Optional[int] = ..., unrealized_pnl_cents: _Optional[int] = ..., equity_cents: _Optional[int] = ..., open_positions: _Optional[int] = ..., reserved_margin_cents: _Optional[int] = ..., pending_orders: _Optional[int] = ...) -> None: ...

class ListPositionsRequest(_message.Message):
    __slots__ = ("user_id", "page_size", "page_token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page_size: int
    page_token: str
    def __init__(self, user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class PositionView(_message.Message):
    __slots__ = ("position", "current_price", "unrealized_pnl_cents")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PRICE_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_PNL_CENTS_FIELD_NUMBER: _ClassVar[int]
    position: _trading_pb2.Position
    current_price: int
    unrealized_pnl_cents: int
    def __init__(self, position: _Optional[_Union[_trading_pb2.Position, _Mapping]] = ..., current_price: _Optional[int] = ..., unrealized_pnl_cents: _Optional[int] = ...) -> None: ...

class ListPositionsResponse(_message.Message):
    __slots__ = ("positions", "next_page_token")
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    positions: _containers.RepeatedCompositeFieldContainer[PositionView]
    next_page_token: str
    def __init__(self, positions: _Optional[_Iterable[_Union[PositionView, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListClosedTradesRequest(_message.Message):
    __slots__ = ("user_id", "page_size", "page_token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page_size: int
    page_token: str
    def __init__(self, user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListClosedTradesResponse(_message.Message):
    __slots__ = ("trades", "next_page_token")
    TRADES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    trades: _containers.RepeatedCompositeFieldContainer[_trading_pb2.ClosedTrade]
    next_page_token: str
    def __init__(self, trades: _Optional[_Iterable[_Union[_trading_pb2.ClosedTrade, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetPricesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PriceView(_message.Message):
    __slots__ = ("quote", "received_at_ms")
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    quote: _market_pb2.Quote
    received_at_ms: int
    def __init__(self, quote: _Optional[_Union[_market_pb2.Quote, _Mapping]] = ..., received_at_ms: _Optional[int] = ...) -> None: ...

class GetPricesResponse(_message.Message):
    __slots__ = ("prices",)
    PRICES_FIELD_NUMBER: _ClassVar[int]
    prices: _containers.RepeatedCompositeFieldContainer[PriceView]
    def __init__(self, prices: _Optional[_Iterable[_Union[PriceView, _Mapping]]] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[_orders_pb2.PendingOrder]
    def __init__(self, orders: _Optional[_Iterable[_Union[_orders_pb2.PendingOrder, _Mapping]]] = ...) -> None: ...

class ListOrderHistoryRequest(_message.Message):
    __slots__ = ("user_id", "page_size", "page_token", "order_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page_size: int
    page_token: str
    order_id: str
    def __init__(self, user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class ListOrderHistoryResponse(_message.Message):
    __slots__ = ("orders", "next_page_token")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[_commands_pb2.OrderRecord]
    next_page_token: str
    def __init__(self, orders: _Optional[_Iterable[_Union[_commands_pb2.OrderRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
