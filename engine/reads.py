"""The narrow interface the gRPC servicers (engine.servicers) read the engine through: the serving
state, the reply hub for StreamReplies, the closed-trade store, the operator's status figures and the
snapshot command. Implemented by engine.lifecycle.Engine; nothing here writes to the state."""

from __future__ import annotations

from typing import Protocol

from engine.domain import TradingState
from engine.event_hub import EventHub
from engine.replies import ReplyHub
from engine.snapshots import SnapshotInfo
from engine.trades import TradeStore, TradeWriter


class NotLeader(Exception):
    """The engine is a standby, or still restoring or replaying: it has no state to serve."""


class EngineReads(Protocol):
    instance_name: str
    hub: ReplyHub
    event_hub: EventHub
    trade_store: TradeStore
    # holds the lease (StreamReplies is accepted from then on); ready: caught up, reads are served
    leader: bool
    ready: bool

    @property
    def state(self) -> TradingState | None: ...

    @property
    def last_applied_id(self) -> str: ...

    @property
    def commands_applied(self) -> int: ...

    @property
    def last_snapshot(self) -> SnapshotInfo | None: ...

    @property
    def writer(self) -> TradeWriter: ...

    def serving_state(self) -> TradingState:
        """The state for read RPCs; NotLeader while standby or still replaying."""
        ...

    async def stream_figures(self) -> tuple[int, int]:
        """(lag after last_applied_id, stream length); -1 when Redis does not answer."""
        ...

    async def take_snapshot(self) -> SnapshotInfo: ...
