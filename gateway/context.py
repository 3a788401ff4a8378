"""What a running gateway holds (built in the app's lifespan, read by gateway.deps): settings, the
database, Redis, the engine client, the price hub, the account-event feed, the auth rate limiters, the
candle reader and the count of account sockets per client."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.account_events import EventFeed
from gateway.candles_client import CandleReader
from gateway.config import GatewaySettings
from gateway.engine_client import EngineClient
from gateway.limits import OpenCounts, RedisRateLimiter
from gateway.prices import PriceHub
from mesh.units import AssetSpec


@dataclass
class GatewayContext:
    settings: GatewaySettings
    asset_specs: dict[str, AssetSpec]
    db_engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    engine: EngineClient
    prices: PriceHub
    events: EventFeed
    auth_limiter: RedisRateLimiter | None
    candles: CandleReader
    # signin attempts per e-mail address (SIGNIN_EMAIL_RATE_LIMIT), across every client address
    signin_email_limiter: RedisRateLimiter | None = None
    # /ws/account sockets open per client address in this process (MAX_ACCOUNT_SOCKETS_PER_CLIENT)
    account_sockets: OpenCounts = field(default_factory=OpenCounts)
