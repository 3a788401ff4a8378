from exness.common.v1 import trading_pb2 as _trading_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("instance_name", "leader", "last_applied_id", "stream_lag", "stream_length", "last_snapshot_id", "snapshot_age_ms", "accounts", "open_positions", "pending_trade_rows", "state_hash", "gateways", "commands_applied", "state_hash_id")
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    LAST_APPLIED_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_LAG_FIELD_NUMBER: _ClassVar[int]
    STREAM_LENGTH_FIELD_NUMBER: _ClassVar[int]
    LAST_SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    OPEN_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    PENDING_TRADE_ROWS_FIELD_NUMBER: _ClassVar[int]
    STATE_HASH_FIELD_NUMBER: _ClassVar[int]
    GATEWAYS_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    STATE_HASH_ID_FIELD_NUMBER: _ClassVar[int]
    instance_name: str
    leader: bool
    last_applied_id: str
    stream_lag: int
    stream_length: int
    last_snapshot_id: str
    snapshot_age_ms: int
    accounts: int
    open_positions: int
    pending_trade_rows: int
    state_hash: str
    gateways: _containers.RepeatedScalarFieldContainer[str]
    commands_applied: int
    state_hash_id: str
    def __init__(self, instance_name: _Optional[str] = ..., leader: _Optional[bool] = ..., last_applied_id: _Optional[str] = ..., stream_lag: _Optional[int] = ..., stream_length: _Optional[int] = ..., last_snapshot_id: _Optional[str] = ..., snapshot_age_ms: _Optional[int] = ..., accounts: _Optional[int] = ..., open_positions: _Optional[int] = ..., pending_trade_rows: _Optional[int] = ..., state_hash: _Optional[str] = ..., gateways: _Optional[_Iterable[str]] = ..., commands_applied: _Optional[int] = ..., state_hash_id: _Optional[str] = ...) -> None: ...

class TakeSnapshotRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TakeSnapshotResponse(_message.Message):
    __slots__ = ("snapshot_id", "last_applied_id", "duration_ms", "size_bytes", "accounts", "state_hash")
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_APPLIED_ID_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    STATE_HASH_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    last_applied_id: str
    duration_ms: int
    size_bytes: int
    accounts: int
    state_hash: str
    def __init__(self, snapshot_id: _Optional[str] = ..., last_applied_id: _Optional[str] = ..., duration_ms: _Optional[int] = ..., size_bytes: _Optional[int] = ..., accounts: _Optional[int] = ..., state_hash: _Optional[str] = ...) -> None: ...

class LookupAccountRequest(_message.Message):
    __slots__ = ("user_id", "email")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    email: str
    def __init__(self, user_id: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class LookupAccountResponse(_message.Message):
    __slots__ = ("account", "positions")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    account: _trading_pb2.Account
    positions: _containers.RepeatedCompositeFieldContainer[_trading_pb2.Position]
    def __init__(self, account: _Optional[_Union[_trading_pb2.Account, _Mapping]] = ..., positions: _Optional[_Iterable[_Union[_trading_pb2.Position, _Mapping]]] = ...) -> None: ...
