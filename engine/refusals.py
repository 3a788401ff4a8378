"""Why an engine refuses to lead, and what an operator should do about it: leading would apply entries
to a state that does not match the log (no restorable snapshot, a gap in the stream, a configuration the
state cannot take). Fatal: the process exits non-zero, so orchestration surfaces it to an operator."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# The engine cannot tell a deployment from a developer's checkout, so both remedies are named.
LOG_GAP_ADVICE = (
    "The stream lacks entries the state needs. If this is a local development checkout whose Redis holds "
    "another checkout's (or an older) stream, run `make reset` to wipe this checkout's local state and start "
    "clean. In a deployment, restore the MongoDB snapshots written for this stream (STREAM_KEY, MONGODB_URL and "
    "MONGODB_DATABASE must name the same platform). Only as a last resort, ENGINE_ACCEPT_LOG_GAP=true starts "
    "anyway and the state silently misses what the lost entries did."
)
RULES_MISFIT_ADVICE = (
    "The configuration removes an asset, or changes an asset's decimal, that open positions or quotes of the "
    "state use. Restore the configuration they were written under (ASSETS and each asset's decimal). For a "
    "local development checkout, `make reset` wipes its local state and starts clean."
)
UNRESTORABLE_ADVICE = (
    "Snapshots exist but none can be restored under this configuration. Restore the configuration they were "
    "written under (ASSETS and each asset's decimal), or restore intact snapshots from a backup. For a local "
    "development checkout, `make reset` wipes its local state and starts clean."
)


class RefuseToLead(Exception):
    def __init__(self, reason: str, advice: str) -> None:
        super().__init__(reason)
        self.advice = advice


def log_gap(gap: str, *, accept: bool, last_applied_id: str) -> None:
    """Refuse to lead over a gap in the log, or, when the operator accepts gaps
    (ENGINE_ACCEPT_LOG_GAP), say loudly that we do."""
    if not accept:
        raise RefuseToLead(f"gap in the log: {gap} (ENGINE_ACCEPT_LOG_GAP=true starts anyway, losing them)",
                           LOG_GAP_ADVICE)  # fmt: skip
    log.critical("gap in the log accepted (ENGINE_ACCEPT_LOG_GAP): the state misses the lost entries",
                 extra={"gap": gap, "last_applied_id": last_applied_id})  # fmt: skip
