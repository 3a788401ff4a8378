from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Quote(_message.Message):
    __slots__ = ("asset", "buy_price", "sell_price", "decimal", "venue_time_ms", "confirmed_at_ms")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    BUY_PRICE_FIELD_NUMBER: _ClassVar[int]
    SELL_PRICE_FIELD_NUMBER: _ClassVar[int]
    DECIMAL_FIELD_NUMBER: _ClassVar[int]
    VENUE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    asset: str
    buy_price: int
    sell_price: int
    decimal: int
    venue_time_ms: int
    confirmed_at_ms: int
    def __init__(self, asset: _Optional[str] = ..., buy_price: _Optional[int] = ..., sell_price: _Optional[int] = ..., decimal: _Optional[int] = ..., venue_time_ms: _Optional[int] = ..., confirmed_at_ms: _Optional[int] = ...) -> None: ...

class PriceUpdate(_message.Message):
    __slots__ = ("quotes", "published_at_ms", "source")
    QUOTES_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    quotes: _containers.RepeatedCompositeFieldContainer[Quote]
    published_at_ms: int
    source: str
    def __init__(self, quotes: _Optional[_Iterable[_Union[Quote, _Mapping]]] = ..., published_at_ms: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...
