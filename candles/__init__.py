"""The candle builder: candles of the platform's published bids, built from the engine's stream into
PostgreSQL exactly once, backfilled from the venue's history, served over gRPC (docs/architecture.md)."""
