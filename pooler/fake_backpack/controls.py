"""The fake Backpack server's fault-injection controls, served over plain HTTP on its port:
`/control/<action>?...`."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from pooler.pricepath import Top

if TYPE_CHECKING:
    from pooler.fake_backpack.server import FakeBackpack


async def control(server: FakeBackpack, action: str, query: dict[str, str]) -> dict[str, object]:
    """HTTP control: /control/<action>?...; actions: stats, drop, close[?code=&reason=], garbage[?text=],
    error[?code=], pause, resume, refuse[?on=0|1], u_string[?on=0|1],
    top?symbol=&bid=&ask=[&bid_qty=&ask_qty=][&empty=ask|bid],
    inject?symbol=&<key>=<JSON text>... (the market's current top as a bookTicker frame, with those
    fields' JSON text replaced verbatim, e.g. inject?symbol=BTC_USDC&a=1e999999999)."""
    from pooler.fake_backpack.server import error_frame  # the server imports this module

    if action == "stats":
        return server.stats()
    if action == "drop":
        return {"dropped": server.drop_all()}
    if action == "close":
        return {
            "closed": await server.close_all(int(query.get("code", 1001)), query.get("reason", "server shutting down"))
        }
    if action == "garbage":
        return {"sent": await server.send_raw_all(query.get("text", "this is not json {"))}
    if action == "error":
        return {"sent": await server.send_raw_all(error_frame(int(query.get("code", 4006))))}
    if action in ("pause", "resume"):
        server.paused = action == "pause"
        return {"paused": server.paused}
    if action == "refuse":
        server.refusing = query.get("on", "1") == "1"
        return {"refusing": server.refusing}
    if action == "u_string":
        server.u_as_string = query.get("on", "1") == "1"
        return {"u_as_string": server.u_as_string}
    if action == "top":
        top = Top(
            query["symbol"],
            Decimal(query["bid"]),
            Decimal(query["ask"]),
            Decimal(query.get("bid_qty", "1")),
            Decimal(query.get("ask_qty", "1")),
        )
        if top.symbol not in server.books or query.get("empty", "ask") not in ("ask", "bid"):
            raise KeyError(top.symbol)
        return {"sent": await server.publish_top(top, query.get("empty"))}
    if action == "inject":
        symbol = query.get("symbol", "")
        book = server.books.get(symbol)
        if book is None:
            raise KeyError(symbol)
        top = book.top or Top(symbol, book.market.start, book.market.start + book.market.tick, Decimal(1), Decimal(1))
        raw = {key: value for key, value in query.items() if key != "symbol"}
        if not raw:
            raise ValueError("inject needs at least one field, e.g. a=1e999999999")
        return {"sent": await server.publish_top(top, raw=raw)}
    raise LookupError(action)
