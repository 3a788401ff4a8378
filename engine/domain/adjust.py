"""Changes to an open position that leave it open: new stop-loss/take-profit levels and the partial close.

Pure functions of the position and the command: the state machine runs the checks, then swaps the
position for the one returned here (same id and open sequence, so its place in every trigger index and in
the account's open order is kept) and re-indexes it."""

from __future__ import annotations

from engine.domain import money
from engine.domain.commands import AmendPosition
from engine.domain.model import ClosedTrade, CloseReason, Position

# a partial close's trade id: `<position id>` + this + `<stream entry id>`; the final close keeps the position id
PART_ID_SEPARATOR = ":"


def amended(position: Position, command: AmendPosition) -> Position:
    """The position with the command's levels (None keeps a level, 0 removes it), in its price scale; the
    levels passed `checks.amendment_rejection` (they are exact at that scale)."""
    scale = command.price_decimal or position.decimal

    def level(new: int | None, old: int) -> int:
        rescaled = None if new is None else money.rescale_exact(new, scale, position.decimal)
        return old if rescaled is None else rescaled

    return position._replace(
        stop_loss=level(command.stop_loss, position.stop_loss),
        take_profit=level(command.take_profit, position.take_profit),
    )


def split(
    position: Position, quantity: int, closing_price: int, entry_id: str, time_ms: int
) -> tuple[ClosedTrade, Position]:
    """Close `quantity` (0 < quantity < position.quantity) at `closing_price`: the closed part, a trade of its
    own with its own PnL and credit, and the rest, which keeps entry, levels, leverage and open time, with
    the margin and maintenance `money.split_for_partial_close` leaves it and its liquidation level
    recomputed from them (exact, and at least as protective as before: see that function)."""
    rest = position.quantity - quantity
    margin, maintenance = money.split_for_partial_close(
        position.margin_cents, position.maintenance_cents, quantity, position.quantity
    )
    remaining = position._replace(
        quantity=rest,
        margin_cents=margin,
        maintenance_cents=maintenance,
        liquidation_price=money.liquidation_price(
            position.side, position.entry_price, rest, margin, maintenance, position.decimal
        ),
    )
    part = position._replace(
        id=position.id + PART_ID_SEPARATOR + entry_id,
        quantity=quantity,
        margin_cents=position.margin_cents - margin,
        maintenance_cents=position.maintenance_cents - maintenance,
    )
    pnl = money.partial_close_pnl_cents(part.side, part.entry_price, closing_price, quantity, part.decimal)
    # may be negative: checks.part_uncovered refuses such a part (its loss would be charged to nobody)
    credited = part.margin_cents + pnl
    return ClosedTrade.of(part, closing_price, pnl, credited, CloseReason.MANUAL, time_ms), remaining
