"""engine.config: the settings build exact rules and refuse bad values."""

from __future__ import annotations

from fractions import Fraction

import pytest
from pydantic import ValidationError

from engine.config import EngineSettings


def test_settings_build_exact_rules() -> None:
    settings = EngineSettings(maintenance_margin_rate="0.005", max_leverage=50, assets="BTC_USDC:2:0.001")
    rules = settings.rules()
    assert rules.maintenance_margin_rate == Fraction(1, 200)
    assert rules.max_leverage == 50 and rules.assets["BTC_USDC"].step == 100_000
    assert EngineSettings(stream_key="s:1").lease_key == "s:1:lease"
    with pytest.raises(ValidationError):
        EngineSettings(maintenance_margin_rate="1.5")
    assert EngineSettings().rules().max_open_positions_per_account == 1_000
    assert EngineSettings(max_open_positions_per_account=7).rules().max_open_positions_per_account == 7
    with pytest.raises(ValidationError):
        EngineSettings(max_open_positions_per_account=0)
