"""Snapshots of the trading state in MongoDB (plain pymongo, so it works against MongoDB or any server
speaking its wire protocol).

A snapshot is one JSON document (state, last_applied_id, uncommitted closed-trade rows), zlib
compressed and split into chunks well below the 16 MB BSON limit (collection `snapshot_chunks`).
Its manifest (collection `snapshots`: SHA-256 of the compressed bytes, chunk count, last_applied_id,
the state's hash)
is written last, in one single-document insert: a snapshot without a manifest does not exist, so a
crash mid-write leaves the previous snapshot current. Loading verifies chunk count and checksum and
falls back to older snapshots; when snapshots exist but none can be restored it raises NoUsableSnapshot
(never "no snapshot": the stream below them is trimmed). Only the newest `keep` are kept.

Fencing (engine.fencing): before the manifest, the writer's epoch is recorded in `snapshot_fences` by a
conditional upsert (refused, StaleEpoch, when a newer epoch is there), and checked again after it (a
manifest that lost the race to a newer leader is deleted), so a stale leader never makes a snapshot current.

The store is synchronous (pymongo); the engine calls it from a worker thread."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pymongo
from bson.binary import Binary
from pymongo.errors import DuplicateKeyError

from engine import jsonslices
from engine.fencing import StaleEpoch
from engine.stream import entry_key

log = logging.getLogger(__name__)

# far below the 16 MB BSON limit, and small enough that a slow link never times out on one chunk
CHUNK_BYTES = 1 << 20
T = TypeVar("T")
FORMAT = 1


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: str
    last_applied_id: str
    created_at_ms: int
    size_bytes: int
    accounts: int
    # SHA-256 of the canonical state it holds (`TradingState.state_hash()` at last_applied_id); "" for
    # snapshots written before the manifest carried it
    state_hash: str = ""


class SnapshotCorrupt(ValueError):
    pass


class NoUsableSnapshot(Exception):
    """Snapshots exist but none can be restored (corrupt, or refused by `restore`: changed ASSETS or asset
    decimals, a newer format). Starting from an empty state instead would lose every account whose entries
    were trimmed from the stream, so the caller must not lead."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        super().__init__("; ".join(f"{snapshot_id}: {error}" for snapshot_id, error in failures))


def encode_body(body: dict[str, Any]) -> tuple[bytes, str]:
    """`encode_chunks` joined: the compressed JSON of `body` and the hash of its "state" member."""
    chunks, state_hash = encode_chunks(body)
    return b"".join(chunks), state_hash


def encode_chunks(body: dict[str, Any], chunk_bytes: int = CHUNK_BYTES) -> tuple[list[bytes], str]:
    """The compressed JSON of `body`, cut in chunks of `chunk_bytes` (the last one shorter), and the hash of
    its "state" member (a `TradingState.snapshot()` dict or a `StateCapture`, released once encoded). The
    state is encoded in its canonical form and the hash taken of that very text: one encoding serves both.
    Made piece by piece (engine.jsonslices) and cut as it comes, never joined whole: no single call of the
    writer's thread holds the GIL for long (JSON pieces of a few hundred rows, zlib on one piece at a time;
    SHA-256 runs without it). The bytes are those of `zlib.compress(text, 1)` over the whole text."""
    others = {key: value for key, value in body.items() if key != "state"}
    head = list(jsonslices.pieces(others))  # "{", its members ..., "}": the state goes in as the last member
    head[-1] = ',"state":' if others else '"state":'
    compressor = zlib.compressobj(level=1)
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    pending = bytearray()

    def compress(data: bytes) -> None:
        pending.extend(compressor.compress(data))
        while len(pending) >= chunk_bytes:
            chunks.append(bytes(pending[:chunk_bytes]))
            del pending[:chunk_bytes]  # from the front of a bytearray: the rest is not copied

    for piece in head:
        compress(piece.encode("ascii"))
    state = body["state"]
    for piece in jsonslices.pieces(state, sort_keys=True):
        data = piece.encode("ascii")
        digest.update(data)
        compress(data)
    compress(b"}")
    pending.extend(compressor.flush())
    chunks.extend(bytes(pending[start : start + chunk_bytes]) for start in range(0, len(pending), chunk_bytes))
    release = getattr(state, "release", None)
    if release is not None:
        release()
    return chunks, digest.hexdigest()


def decode_body(blob: bytes) -> dict[str, Any]:
    data = json.loads(zlib.decompress(blob))
    if not isinstance(data, dict):
        raise SnapshotCorrupt("snapshot body is not an object")
    return data


class SnapshotStore:
    def __init__(self, url: str, database: str, stream_key: str, keep: int) -> None:
        self.client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            url, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000, socketTimeoutMS=60_000
        )
        db = self.client[database]
        self.manifests = db["snapshots"]
        self.chunks = db["snapshot_chunks"]
        self.fences = db["snapshot_fences"]
        # snapshots of several streams (shards) may share a database
        self.stream_key = stream_key
        self.keep = keep

    def close(self) -> None:
        self.client.close()

    def write(self, body: dict[str, Any], *, last_applied_id: str, accounts: int, epoch: int = 0) -> SnapshotInfo:
        """`body["state"]` is `TradingState.snapshot()`; the returned info carries its state hash. `epoch`: the
        writer's fencing token (StaleEpoch, and no snapshot, when a newer one is recorded; 0: unfenced)."""
        chunks, state_hash = encode_chunks(body)
        created_at_ms = int(time.time() * 1000)
        snapshot_id = f"{last_applied_id}@{created_at_ms}"
        checksum, size_bytes = hashlib.sha256(), 0
        for seq, chunk in enumerate(chunks):
            self.chunks.insert_one({
                "_id": f"{self.stream_key}|{snapshot_id}|{seq}",
                "stream_key": self.stream_key, "snapshot_id": snapshot_id, "seq": seq, "data": Binary(chunk),
            })  # fmt: skip
            checksum.update(chunk)
            size_bytes += len(chunk)
        ms, seq = entry_key(last_applied_id)
        self._fence(epoch)
        # the manifest makes the snapshot current: written last, in one atomic single-document insert
        manifest_id = f"{self.stream_key}|{snapshot_id}"
        self.manifests.insert_one({
            "_id": manifest_id, "stream_key": self.stream_key, "snapshot_id": snapshot_id, "epoch": epoch,
            "format": FORMAT, "last_applied_id": last_applied_id, "last_applied_ms": ms, "last_applied_seq": seq,
            "created_at_ms": created_at_ms, "chunks": len(chunks), "size_bytes": size_bytes,
            "sha256": checksum.hexdigest(), "accounts": accounts, "state_sha256": state_hash,
        })  # fmt: skip
        if epoch > 0 and self._recorded_epoch() > epoch:
            # a newer leader recorded its epoch between our check and our manifest: ours must not count
            self.manifests.delete_one({"_id": manifest_id})
            raise StaleEpoch("snapshot manifest", epoch)
        return SnapshotInfo(snapshot_id, last_applied_id, created_at_ms, size_bytes, accounts, state_hash)

    def _fence(self, epoch: int) -> None:
        """Record `epoch` as the stream's newest snapshot writer, or StaleEpoch if a newer one is recorded (the
        filter then misses and the upsert collides with the existing document's _id)."""
        if epoch <= 0:
            return
        try:
            self.fences.update_one({"_id": self.stream_key, "epoch": {"$lte": epoch}}, {"$set": {"epoch": epoch}},
                                   upsert=True)  # fmt: skip
        except DuplicateKeyError:
            raise StaleEpoch("snapshot manifest", epoch) from None

    def _recorded_epoch(self) -> int:
        fence = self.fences.find_one({"_id": self.stream_key})
        return int(fence["epoch"]) if fence else 0

    def _newest_first(self) -> list[dict[str, Any]]:
        cursor = self.manifests.find({"stream_key": self.stream_key}).sort(
            [("last_applied_ms", -1), ("last_applied_seq", -1), ("created_at_ms", -1)]
        )
        return list(cursor)

    def list(self) -> list[SnapshotInfo]:
        return [_info(m) for m in self._newest_first()]

    def load_newest(self, restore: Callable[[dict[str, Any]], T]) -> tuple[SnapshotInfo, T] | None:
        """The newest snapshot that verifies and that `restore` accepts (it raises ValueError otherwise),
        restored; failing ones are logged and an older one is tried (the stream is kept from the oldest
        snapshot on). None only when there is no snapshot at all; NoUsableSnapshot when there are some but
        none can be restored. The body is
        {"state": TradingState.snapshot(), "pending_trades": [row, ...], "last_applied_id": ...}."""
        failures: list[tuple[str, str]] = []
        for manifest in self._newest_first():
            try:
                return _info(manifest), restore(self._read(manifest))
            except (SnapshotCorrupt, ValueError, KeyError, TypeError, zlib.error) as exc:
                snapshot_id = str(manifest.get("snapshot_id"))
                failures.append((snapshot_id, f"{type(exc).__name__}: {exc}"))
                log.error(
                    "snapshot cannot be restored; trying an older one",
                    extra={"snapshot_id": snapshot_id, "error": str(exc)},
                )
        if failures:
            raise NoUsableSnapshot(failures)
        return None

    def _read(self, manifest: dict[str, Any]) -> dict[str, Any]:
        if manifest.get("format") != FORMAT:
            raise SnapshotCorrupt(f"unknown snapshot format {manifest.get('format')!r}")
        chunks = list(
            self.chunks.find({"stream_key": self.stream_key, "snapshot_id": manifest["snapshot_id"]}).sort("seq", 1)
        )
        if [c["seq"] for c in chunks] != list(range(manifest["chunks"])):
            raise SnapshotCorrupt(f"expected {manifest['chunks']} chunks, found {len(chunks)}")
        blob = b"".join(bytes(c["data"]) for c in chunks)
        if hashlib.sha256(blob).hexdigest() != manifest["sha256"]:
            raise SnapshotCorrupt("checksum mismatch")
        body = decode_body(blob)
        if body.get("last_applied_id") != manifest["last_applied_id"]:
            raise SnapshotCorrupt("body and manifest disagree on last_applied_id")
        return body

    def prune(self) -> SnapshotInfo | None:
        """Delete all but the newest `keep` snapshots (and chunks left by interrupted writes); returns
        the oldest snapshot kept, below which the stream may be trimmed."""
        manifests = self._newest_first()
        for old in manifests[self.keep :]:
            # manifest first: a snapshot must never be visible with chunks missing
            self.manifests.delete_one({"_id": old["_id"]})
        kept = manifests[: self.keep]
        self.chunks.delete_many(
            {"stream_key": self.stream_key, "snapshot_id": {"$nin": [m["snapshot_id"] for m in kept]}}
        )
        return _info(kept[-1]) if kept else None


def _info(manifest: dict[str, Any]) -> SnapshotInfo:
    return SnapshotInfo(
        manifest["snapshot_id"], manifest["last_applied_id"], manifest["created_at_ms"], manifest["size_bytes"],
        manifest.get("accounts", 0), str(manifest.get("state_sha256", "")),
    )  # fmt: skip
