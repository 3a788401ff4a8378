"""engine.trades: page tokens round-trip and garbage is refused."""

from __future__ import annotations

import pytest

from engine.trade_rows import InvalidPageToken, decode_page_token, encode_page_token


def test_page_tokens_round_trip_and_garbage_is_refused() -> None:
    assert decode_page_token(encode_page_token(1234, "pos-1-2")) == (1234, "pos-1-2")
    forged = [
        encode_page_token(10**20, "x"),
        encode_page_token(-1, "x"),
        encode_page_token(5, "pos\x00x"),
        encode_page_token(5, "p" * 500),
    ]
    for garbage in ("%%%", "bm90LWEtdG9rZW4=", "", *forged):
        with pytest.raises(InvalidPageToken):
            decode_page_token(garbage)
