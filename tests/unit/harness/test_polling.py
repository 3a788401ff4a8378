"""harness.polling: a check is polled until it holds and its value returned; a failure names what was
awaited, the last thing seen and the watched process's log; an exited process fails the wait at once."""

from __future__ import annotations

import pytest

from harness.polling import NotYet, apoll_until, poll_until


class Exited:
    args = ["python", "-m", "engine"]

    def exited(self) -> bool:
        return True

    def returncode(self) -> int | None:
        return 3

    def output(self) -> str:
        return "the engine's last words"


def countdown(ready_after: int) -> list[int]:
    return [ready_after]


def test_the_check_is_polled_until_it_holds_and_its_value_is_returned() -> None:
    left = countdown(3)

    def check() -> str | None:
        left[0] -= 1
        if left[0] == 1:
            raise NotYet("almost")
        return "done" if left[0] <= 0 else None

    assert poll_until(check, "the countdown", interval=0) == "done"


def test_a_timeout_names_what_was_awaited_and_the_last_thing_seen() -> None:
    def check() -> bool:
        raise NotYet("503 starting")

    with pytest.raises(TimeoutError, match=r"waiting for the gateway's /readyz \(last: 503 starting\)"):
        poll_until(check, "the gateway's /readyz", timeout=0)
    with pytest.raises(TimeoutError, match=r"waiting for a port \(last: ConnectionRefusedError"):
        poll_until(lambda: (_ for _ in ()).throw(ConnectionRefusedError()), "a port", timeout=0, ignore=(OSError,))


def test_other_errors_are_not_swallowed() -> None:
    with pytest.raises(KeyError):
        poll_until(lambda: {}["missing"], "a bug", timeout=0)


def test_an_exited_process_fails_the_wait_at_once_with_its_log() -> None:
    with pytest.raises(RuntimeError, match=r"exited with 3 while waiting for SERVING:\nthe engine's last words"):
        poll_until(lambda: False, "SERVING", 3600, Exited())


async def test_the_async_flavour_awaits_coroutine_checks() -> None:
    left = countdown(2)

    async def check() -> int:
        left[0] -= 1
        return 7 if left[0] <= 0 else 0

    assert await apoll_until(check, "the countdown", interval=0) == 7
    assert await apoll_until(lambda: "plain", "a plain check") == "plain"
    with pytest.raises(TimeoutError, match=r"waiting for a reply \(last: 0\)"):
        await apoll_until(lambda: 0, "a reply", timeout=0)
    with pytest.raises(RuntimeError, match="exited with 3"):
        await apoll_until(check, "SERVING", 3600, Exited())
