"""A local stand-in for Backpack Exchange's public websocket, faithful to the recorded wire behaviour
(docs/backpack-protocol.md §11): no subscribe acks, the real error frames, silence for unknown
symbols, protocol pings, a Close frame on shutdown, and `bookTicker`/`ticker` frames with the real field
names, types and key order, driven by a scripted or seeded random price path.

Tests and `make up` (offline) use it: `python -m pooler.fake_backpack --port N [--script FILE | --seed S]`.
Fault injection is reachable in process (`FakeBackpack` methods) and over plain HTTP on the same port
(`GET /control/...`, see `FakeBackpack.control`), which no websocket client ever sends."""

from pooler.fake_backpack.script import ScriptStep, load_script
from pooler.fake_backpack.server import FakeBackpack

__all__ = ["FakeBackpack", "ScriptStep", "load_script"]
