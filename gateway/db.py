"""The gateway's PostgreSQL: the `gateway_users` table (SQLAlchemy async + asyncpg), its Alembic
migrations (run to head on start-up, version table `alembic_version_gateway`) and the user queries."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import anyio.to_thread
from sqlalchemy import Boolean, DateTime, String, Uuid, false, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mesh import postgres

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_gateway"


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "gateway_users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # normalised: trimmed, lower case; the unique index makes "email taken" race-free
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_logged_in: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # set once CreateAccount answered: from then on a missing engine account is a lost one, never re-created
    account_created: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)


class EmailTaken(Exception):
    pass


async def upgrade_to_head(async_url: str) -> None:
    # env.py runs its own event loop, so it goes to a worker thread
    await anyio.to_thread.run_sync(postgres.upgrade_to_head, MIGRATIONS_DIR, async_url)


def make_engine(async_url: str) -> AsyncEngine:
    # hide_parameters: a database error's text never carries a user's e-mail or password hash into a log
    return create_async_engine(async_url, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def create_user(session: AsyncSession, email: str, password_hash: str) -> User:
    user = User(
        id=uuid.uuid4(),
        email=email,
        password_hash=password_hash,
        last_logged_in=dt.datetime.now(dt.UTC),
        account_created=False,
    )
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise EmailTaken(email) from None
    return user


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()


async def touch_last_login(session: AsyncSession, user: User) -> None:
    now = dt.datetime.now(dt.UTC)
    await session.execute(update(User).where(User.id == user.id).values(last_logged_in=now))
    await session.commit()
    user.last_logged_in = now


async def mark_account_created(session: AsyncSession, user: User) -> None:
    await session.execute(update(User).where(User.id == user.id).values(account_created=True))
    await session.commit()
    user.account_created = True
