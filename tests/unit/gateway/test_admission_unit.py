"""gateway.admission.Admission without sockets: the in-flight bound, and the smaller bound while the
event loop lags (never zero)."""

from __future__ import annotations

import pytest

from gateway.admission import LAGGING_DIVISOR, Admission, LoopLagProbe
from tests.support.admission import refusal


def test_in_flight_bound_and_the_lagging_bound() -> None:
    probe = LoopLagProbe()
    admission = Admission(max_in_flight=64, max_loop_lag=0.5, probe=probe)
    assert refusal(admission, 63) is None
    assert refusal(admission, 64) == "ENGINE_BUSY"
    probe.lag_seconds = 0.6
    assert refusal(admission, 64 // LAGGING_DIVISOR - 1) is None
    assert refusal(admission, 64 // LAGGING_DIVISOR) == "OVERLOADED"
    assert refusal(admission, 64) == "ENGINE_BUSY"
    # however late the loop runs, one command at a time still goes through
    tiny = Admission(max_in_flight=2, max_loop_lag=0.5, probe=probe)
    assert refusal(tiny, 0) is None
    assert refusal(tiny, 1) == "OVERLOADED"


@pytest.mark.parametrize(("max_in_flight", "max_loop_lag"), [(0, 0.5), (0, 0.0)])
def test_switched_off(max_in_flight: int, max_loop_lag: float) -> None:
    probe = LoopLagProbe()
    probe.lag_seconds = 10.0
    assert refusal(Admission(max_in_flight, max_loop_lag, probe), 100_000) is None


def test_lag_signal_off_keeps_the_in_flight_bound() -> None:
    probe = LoopLagProbe()
    probe.lag_seconds = 10.0
    admission = Admission(max_in_flight=8, max_loop_lag=0.0, probe=probe)
    assert refusal(admission, 7) is None
    assert refusal(admission, 8) == "ENGINE_BUSY"
