"""mesh.postgres.asyncpg_url: every postgresql spelling gets the asyncpg driver; anything else is refused
without echoing the credentials."""

from __future__ import annotations

import pytest

from mesh.postgres import asyncpg_url


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+asyncpg"])
def test_postgresql_urls_get_the_asyncpg_driver(scheme: str) -> None:
    assert asyncpg_url(f"{scheme}://u:p%40x@h:5432/db") == "postgresql+asyncpg://u:p%40x@h:5432/db"


@pytest.mark.parametrize("url", ["mysql://u:secret@h/db", "postgresql+psycopg://u:secret@h/db", "u:secret@h/db", ""])
def test_other_urls_are_refused_without_the_password(url: str) -> None:
    with pytest.raises(ValueError, match="must be a postgresql:// URL") as refused:
        asyncpg_url(url)
    assert "secret" not in str(refused.value)
