from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CandleInterval(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANDLE_INTERVAL_UNSPECIFIED: _ClassVar[CandleInterval]
    CANDLE_INTERVAL_M1: _ClassVar[CandleInterval]
    CANDLE_INTERVAL_M5: _ClassVar[CandleInterval]
    CANDLE_INTERVAL_M15: _ClassVar[CandleInterval]
    CANDLE_INTERVAL_H1: _ClassVar[CandleInterval]
    CANDLE_INTERVAL_H4: _ClassVar[CandleInterval]
    CANDLE_INTERVAL_D1: _ClassVar[CandleInterval]
CANDLE_INTERVAL_UNSPECIFIED: CandleInterval
CANDLE_INTERVAL_M1: CandleInterval
CANDLE_INTERVAL_M5: CandleInterval
CANDLE_INTERVAL_M15: CandleInterval
CANDLE_INTERVAL_H1: CandleInterval
CANDLE_INTERVAL_H4: CandleInterval
CANDLE_INTERVAL_D1: CandleInterval

class Candle(_message.Message):
    __slots__ = ("time_ms", "open", "high", "low", "close", "ticks")
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    TICKS_FIELD_NUMBER: _ClassVar[int]
    time_ms: int
    open: int
    high: int
    low: int
    close: int
    ticks: int
    def __init__(self, time_ms: _Optional[int] = ..., open: _Optional[int] = ..., high: _Optional[int] = ..., low: _Optional[int] = ..., close: _Optional[int] = ..., ticks: _Optional[int] = ...) -> None: ...

class ListCandlesRequest(_message.Message):
    __slots__ = ("asset", "interval", "limit", "before_ms")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    BEFORE_MS_FIELD_NUMBER: _ClassVar[int]
    asset: str
    interval: CandleInterval
    limit: int
    before_ms: int
    def __init__(self, asset: _Optional[str] = ..., interval: _Optional[_Union[CandleInterval, str]] = ..., limit: _Optional[int] = ..., before_ms: _Optional[int] = ...) -> None: ...

class ListCandlesResponse(_message.Message):
    __slots__ = ("asset", "interval", "decimal", "candles")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    DECIMAL_FIELD_NUMBER: _ClassVar[int]
    CANDLES_FIELD_NUMBER: _ClassVar[int]
    asset: str
    interval: CandleInterval
    decimal: int
    candles: _containers.RepeatedCompositeFieldContainer[Candle]
    def __init__(self, asset: _Optional[str] = ..., interval: _Optional[_Union[CandleInterval, str]] = ..., decimal: _Optional[int] = ..., candles: _Optional[_Iterable[_Union[Candle, _Mapping]]] = ...) -> None: ...

class CandleUpdate(_message.Message):
    __slots__ = ("asset", "interval", "decimal", "candle")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    DECIMAL_FIELD_NUMBER: _ClassVar[int]
    CANDLE_FIELD_NUMBER: _ClassVar[int]
    asset: str
    interval: CandleInterval
    decimal: int
    candle: Candle
    def __init__(self, asset: _Optional[str] = ..., interval: _Optional[_Union[CandleInterval, str]] = ..., decimal: _Optional[int] = ..., candle: _Optional[_Union[Candle, _Mapping]] = ...) -> None: ...

class CandleUpdates(_message.Message):
    __slots__ = ("updates",)
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    updates: _containers.RepeatedCompositeFieldContainer[CandleUpdate]
    def __init__(self, updates: _Optional[_Iterable[_Union[CandleUpdate, _Mapping]]] = ...) -> None: ...
