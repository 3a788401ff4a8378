"""Fencing tokens: every lease acquisition takes a new epoch, a number that only ever grows (engine.lease),
and every side effect a leader leaves outside its process is checked against it where it lands, so a leader
that was paused (SIGSTOP, a long GC, a VM freeze) or cut off from Redis past its lease can never write
once a newer leader exists:

- stream acknowledgements, dead letters, the group cursor after replay, trims and the engine's own entries
  (the rules entry): Redis Lua scripts that
  compare the epoch key with the writer's epoch and do nothing when it differs (engine.stream);
- replies: a batch's replies are held until its fenced acknowledgement succeeded (engine.replies,
  engine.consumer); a refused one drops them, one lost in transit is retried while the lease is trusted;
- closed-trade rows (and any other row kind of the group commit): in the same PostgreSQL statement, a
  conditional upsert of the epoch into `engine_fence` that every insert of the statement depends on
  (engine.commit_sql);
- snapshots: the manifest is written only after a conditional upsert of the epoch into the MongoDB
  collection `snapshot_fences` (engine.snapshots).

A refusal raises StaleEpoch, a LeaseLost: the session stops applying and drops its state."""

from __future__ import annotations

from engine.lease import LeaseLost

# Redis: run the body only while KEYS[1] (the epoch key) still holds ARGV[1] (the caller's epoch); else -1
EPOCH_GUARD = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
"""


class StaleEpoch(LeaseLost):
    """A side effect was refused: a newer leader took the lease (with a higher epoch) meanwhile."""

    def __init__(self, where: str, epoch: int) -> None:
        super().__init__(f"{where} refused for epoch {epoch}: a newer leader holds the lease")
        self.where = where
        self.epoch = epoch
