"""The process helper (services/adapters/processes.py) on small Python children: no broker
needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from services.adapters.processes import ChildProcess, NotYet, WaitTimedOut, stop_all, wait_until

GRACEFUL = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
    "print('ready'); time.sleep(60)"
)
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready'); "
    "time.sleep(60)"
)


def python(tmp_path: Path, name: str, code: str, **env: str) -> ChildProcess:
    return ChildProcess(name, [sys.executable, "-c", code], tmp_path / f"{name}.log", env)


def state(child: ChildProcess) -> str:
    """The kernel's one-letter state of the child (T: stopped)."""
    return Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


async def said(child: ChildProcess, words: str) -> None:
    async def in_log() -> bool:
        if words not in child.log_tail():
            raise NotYet(child.log_tail(3))
        return True

    await wait_until(in_log, 10, f"{child.name} to say {words!r}")


async def test_a_child_gets_its_environment_and_writes_both_streams_to_its_log(tmp_path):
    child = python(
        tmp_path,
        "env",
        "import os, sys; print(os.environ['GREETING']); "
        "print('to stderr', file=sys.stderr); sys.exit(3)",
        GREETING="hello",
    ).start(banner="==== run 1 ====")
    assert await child.exited() == 3
    assert child.log_tail() == "==== run 1 ====\nhello\nto stderr"
    assert child.log_tail(1, indent="  ") == "  to stderr"
    assert child.exit_words() == "exited with code 3" and not child.running


async def test_pause_and_resume_stop_and_continue_the_child(tmp_path):
    child = python(tmp_path, "sleeper", "print('ready'); import time; time.sleep(60)").start()
    try:
        await said(child, "ready")
        child.pause()
        await wait_until(lambda: _state_is(child, "T"), 5, "the child stopped")
        child.resume()
        await wait_until(lambda: _state_is(child, "S", "R"), 5, "the child running again")
    finally:
        child.stop()
    assert child.exit_words() == "was killed by SIGTERM"


async def _state_is(child: ChildProcess, *states: str) -> bool:
    return state(child) in states


async def test_stop_wakes_a_paused_child_and_kill_is_kill_9(tmp_path):
    paused = python(tmp_path, "paused", GRACEFUL).start()
    await said(paused, "ready")
    paused.pause()
    # A paused process cannot run its SIGTERM handler: without a SIGCONT first the grace
    # would run out and SIGKILL end it.
    paused.stop(grace=3)
    assert paused.exit_words() == "exited with code 0"
    killed = python(tmp_path, "killed", "import time; time.sleep(60)").start()
    killed.kill()
    assert killed.returncode == -9 and killed.exit_words() == "was killed by SIGKILL"


async def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    stubborn = python(tmp_path, "stubborn", STUBBORN).start()
    await said(stubborn, "ready")
    stubborn.stop(grace=0.3)
    assert stubborn.exit_words() == "was killed by SIGKILL"


async def test_stop_all_terminates_in_order_and_says_whom_it_kills(tmp_path):
    stubborn = python(tmp_path, "stubborn", STUBBORN).start()
    polite = python(tmp_path, "polite", "import time; time.sleep(60)").start()
    done = python(tmp_path, "done", "pass").start()
    await done.exited()
    await said(stubborn, "ready")
    killed: list[str] = []
    stopped = await stop_all(
        [stubborn, polite, done], grace=0.5, killing=lambda child: killed.append(child.name)
    )
    assert [child.name for child in stopped] == ["stubborn", "polite"] and killed == ["stubborn"]
    assert stubborn.exit_words() == "was killed by SIGKILL"
    assert polite.exit_words() == "was killed by SIGTERM"


async def test_wait_until_returns_the_first_true_result_or_says_the_last_reason():
    answers = iter([None, 0, "yes"])

    async def third_time() -> str | None:
        return next(answers)

    assert await wait_until(third_time, 5, "a yes", interval=0.01) == "yes"

    async def never() -> None:
        raise NotYet("still starting")

    with pytest.raises(WaitTimedOut) as timed_out:
        await wait_until(never, 0.05, "never", interval=0.01)
    assert str(timed_out.value.last) == "still starting"
    assert "waiting for never (last: NotYet('still starting'))" in str(timed_out.value)

    async def broken() -> None:
        raise RuntimeError("gone")

    with pytest.raises(RuntimeError, match="gone"):
        await wait_until(broken, 5, "broken")
