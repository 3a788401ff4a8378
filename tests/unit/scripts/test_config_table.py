"""The README's configuration table is exactly what the settings classes read, with their defaults."""

from __future__ import annotations

from pathlib import Path

from scripts.config_table import BEGIN, END, MEANING, render, rows

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_setting_has_a_meaning_and_no_meaning_is_stale() -> None:
    assert set(MEANING) == set(rows())


def test_readme_table_matches_the_settings_classes() -> None:
    text = README.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == render(), "README configuration table is stale: run `python scripts/config_table.py`"
