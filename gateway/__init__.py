"""The gateway: the platform's only public entry point. A FastAPI app that serves the REST API and the
price WebSocket (docs/contract.md §5), keeps users in PostgreSQL, and speaks protobuf to the engine: commands
are XADDed to the Redis stream, replies come back on this instance's gRPC `StreamReplies` call, reads are
gRPC unary calls."""
