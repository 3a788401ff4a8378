"""What a running gateway holds (built in the app's lifespan, read by gateway.deps): settings, the
database, Redis, the engine client, the price hub, the auth rate limiter and the candle reader."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.candles_client import CandleReader
from gateway.config import GatewaySettings
from gateway.engine_client import EngineClient
from gateway.limits import RedisRateLimiter
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
    auth_limiter: RedisRateLimiter | None
    candles: CandleReader
