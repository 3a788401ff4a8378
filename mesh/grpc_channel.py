"""Client channels to internal gRPC services, with keepalive so a dead peer is noticed quickly."""

from __future__ import annotations

import grpc

CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 5_000),
    ("grpc.max_receive_message_length", 8 << 20),
]


def insecure_channel(address: str) -> grpc.aio.Channel:
    if not address:
        raise ValueError("gRPC address is empty")
    return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
