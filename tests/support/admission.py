"""What gateway.admission.Admission decides for a count of writes in flight, for the unit and integration
tests of the in-flight cap."""

from __future__ import annotations

from gateway.admission import Admission
from gateway.errors import ApiError


def refusal(admission: Admission, in_flight: int) -> str | None:
    """The refusal's code (a 503 with Retry-After that says nothing was executed), or None if admitted."""
    try:
        admission.check(in_flight)
    except ApiError as refused:
        assert refused.status == 503 and refused.headers == {"Retry-After": "1"}
        assert "not executed" in refused.message
        return refused.code
    return None
