"""The commands the domain accepts (one per body of exness.engine.v1.Command) and the replies it gives.

Prices, stop-loss, take-profit and trade_opening_price are in the asset's price scale; 0 means off."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.domain.model import (
    Account,
    ClosedTrade,
    FinishedOrder,
    OrderType,
    PendingOrder,
    Position,
    RejectReason,
    Side,
    Valuation,
)
from engine.domain.rules import Rules

if TYPE_CHECKING:
    from engine.domain.events import AccountEvent


@dataclass(frozen=True, slots=True)
class CreateAccount:
    user_id: str
    email: str
    starting_balance_cents: int


@dataclass(frozen=True, slots=True)
class OpenPosition:
    user_id: str
    asset: str
    side: Side
    # in 10^-8 units of the base asset, a multiple of the asset's step
    quantity: int
    leverage: int
    # accepted distance of the fill from trade_opening_price, in basis points of it (1% = 100)
    slippage_bps: int
    stop_loss: int
    take_profit: int
    # the price the client saw; 0 = no slippage check
    trade_opening_price: int


@dataclass(frozen=True, slots=True)
class ClosePosition:
    user_id: str
    position_id: str
    # in 10^-8 units: how much to close, a multiple of the asset's step below the position's quantity;
    # 0 (or the whole quantity) closes all of it
    quantity: int = 0


@dataclass(frozen=True, slots=True)
class AmendPosition:
    """New stop-loss and take-profit of an open position: None = unchanged, 0 = off."""

    user_id: str
    position_id: str
    stop_loss: int | None
    take_profit: int | None
    # the scale of the two levels; 0 = the position's. A producer that does not know the position's asset
    # states a finer scale, and a level with more decimals than the position's scale is refused.
    price_decimal: int = 0


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """A pending LIMIT or STOP order (engine.domain.orders); prices in the asset's scale, 0 = off."""

    user_id: str
    asset: str
    side: Side
    type: OrderType
    price: int
    quantity: int
    leverage: int
    stop_loss: int
    take_profit: int
    # stream time; 0 = good till cancelled
    expires_at_ms: int = 0


@dataclass(frozen=True, slots=True)
class CancelOrder:
    user_id: str
    order_id: str


@dataclass(frozen=True, slots=True)
class Quote:
    asset: str
    buy_price: int
    sell_price: int
    # the scale of these two prices; rescaled to the asset's scale if it differs
    decimal: int
    # when the feed last produced or confirmed this quote (ms since epoch, the publisher's clock): its age
    # runs from here, measured against published_at_ms on the same clock; 0 = not stated (dated by the entry)
    confirmed_at_ms: int = 0
    # when its update was published, on the same clock as confirmed_at_ms (0 = not stated)
    published_at_ms: int = 0


@dataclass(frozen=True, slots=True)
class PriceUpdate:
    """The quotes of one publish, applied in order. At most one per asset (docs/contract.md §3): with two,
    which price the asset is at would depend on their order, and the first could fire stop-losses,
    liquidations and fills at a price the second one replaces in the same instant. Such an update is
    refused whole (ValueError; the decoder makes it a malformed entry, dead-lettered)."""

    quotes: tuple[Quote, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for quote in self.quotes:
            if quote.asset in seen:
                raise ValueError(f"price update carries more than one quote of {quote.asset[:40]!r}")
            seen.add(quote.asset)


@dataclass(frozen=True, slots=True)
class ChangeRules:
    """Puts other rules in force from this entry on (what was decided before stays decided). Refused, and
    nothing changed, when open positions or quotes do not fit the new assets."""

    rules: Rules


UserCommand = CreateAccount | OpenPosition | ClosePosition | AmendPosition | PlaceOrder | CancelOrder
Command = UserCommand | PriceUpdate | ChangeRules


@dataclass(frozen=True, slots=True)
class AccountCreated:
    account: Account
    # True when the account existed before this command (it was not changed)
    already_existed: bool


@dataclass(frozen=True, slots=True)
class PositionOpened:
    position: Position
    # free balance after the margin was locked
    balance_cents: int
    # the position marked to the closing-side price of the quote it opened on, so an idempotent retry
    # repeats the first reply exactly; None only in a reply remembered by a snapshot older than format 4
    valuation: Valuation | None = None


@dataclass(frozen=True, slots=True)
class PositionClosed:
    # a partial close: the part closed, a closed trade of its own (id `<position id>:<entry id>`)
    trade: ClosedTrade
    # free balance after the close was credited
    balance_cents: int
    # what stays open after a partial close; None when the whole position was closed
    remaining: Position | None = None


@dataclass(frozen=True, slots=True)
class PositionAmended:
    position: Position
    # free balance (an amendment does not change it)
    balance_cents: int


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    order: PendingOrder
    # free balance after the reserve was taken
    balance_cents: int


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    # status CANCELLED
    order: FinishedOrder
    # free balance after the reserve was returned
    balance_cents: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused command: nothing was changed."""

    reason: RejectReason
    # a sentence for people
    message: str


Reply = AccountCreated | PositionOpened | PositionClosed | PositionAmended | OrderPlaced | OrderCancelled | Rejection


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one command did: the reply to its sender (None for a price update) and every position it
    closed, in close order (a manual close lists its own trade; a price tick lists what it triggered)."""

    reply: Reply | None
    closed_trades: tuple[ClosedTrade, ...] = ()
    # one sentence per quote of a price update that was malformed and ignored, for the operator's log
    skipped_quotes: tuple[str, ...] = ()
    # every pending order this entry ended, in order: the ones that expired at its time first (any entry
    # can expire orders), then a cancel's own or the fills and refused fills of a price tick
    finished_orders: tuple[FinishedOrder, ...] = ()
    # what the entry changed in each account, numbered per account (engine.domain.events); none for a
    # remembered reply or a refusal
    events: tuple[AccountEvent, ...] = ()
    # the reply is one remembered under the command's idempotency key: the command changed nothing
    remembered: bool = False
