"""The one way to wait for something another process does: poll a check until it holds, and fail with a
message naming what was awaited, the last thing seen and, when a process is being waited for, its log.

A check returns a truthy value when done (that value is returned) or a falsy one, or raises `NotYet` (its
text becomes "the last thing seen"). The timeout only bounds a broken run; no test asserts on timing."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

T = TypeVar("T")

# how much of a process's log a failure message shows
LOG_TAIL = 4000


class NotYet(Exception):
    """Raised by a check to say why it does not hold yet; the failure message shows the last one."""


class Watched(Protocol):
    """A process being waited for: waiting stops at once when it exits."""

    args: list[str]

    def exited(self) -> bool: ...

    def returncode(self) -> int | None: ...

    def output(self) -> str: ...


def _exited(what: str, proc: Watched) -> RuntimeError:
    return RuntimeError(
        f"{proc.args} exited with {proc.returncode()} while waiting for {what}:\n{proc.output()[-LOG_TAIL:]}"
    )


def _timed_out(what: str, timeout: float, last: str, proc: Watched | None) -> TimeoutError:
    tail = f"\n{proc.output()[-LOG_TAIL:]}" if proc is not None else ""
    return TimeoutError(f"timed out after {timeout}s waiting for {what} (last: {last}){tail}")


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, NotYet) else repr(exc)


def poll_until(
    check: Callable[[], T],
    what: str,
    timeout: float = 30.0,
    proc: Watched | None = None,
    *,
    interval: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call `check` every `interval` seconds until it returns a truthy value, and return that value.

    `ignore`: exceptions that mean "not yet" too (a connection refused while a server starts). Raises
    RuntimeError at once if `proc` exits, TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = "never checked"
    catch: tuple[type[BaseException], ...] = (NotYet, *ignore)
    while True:
        if proc is not None and proc.exited():
            raise _exited(what, proc)
        try:
            result = check()
            if result:
                return result
            last = f"{result!r}"
        except catch as exc:
            last = _describe(exc)
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, last, proc)
        time.sleep(interval)


# the same signature as poll_until: the timeout bounds a poll and names itself in the failure message
async def apoll_until(
    check: Callable[[], Awaitable[T] | T],
    what: str,
    timeout: float = 30.0,  # noqa: ASYNC109
    proc: Watched | None = None,
    *,
    interval: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """`poll_until` for event-loop code: `check` may be a coroutine function or a plain one."""
    deadline = time.monotonic() + timeout
    last = "never checked"
    catch: tuple[type[BaseException], ...] = (NotYet, *ignore)
    while True:
        if proc is not None and proc.exited():
            raise _exited(what, proc)
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            last = f"{result!r}"
        except catch as exc:
            last = _describe(exc)
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, last, proc)
        await asyncio.sleep(interval)
