"""The engine service: the deterministic single writer of the trading state. `engine.domain` holds the
pure trading rules; the rest of this package runs them as a process (`python -m engine`): stream
consumer, reply routing, gRPC servicers, snapshots, closed-trade store and the single-writer lease
(engine.lifecycle is where they are put together)."""
