"""Models that loop forever, exit the interpreter, allocate 50 GB or segfault: each yields a clear
NPL905 on its line, the runner keeps serving in a fresh process, and no process is left behind."""

from __future__ import annotations

import asyncio

import pytest

from numpyro_lint.runner.client import SmokeRunner
from smoke_helpers import folder_fixture, runner_fixture  # noqa: F401 - the fixtures folder, runner
from smoke_helpers import fixture, line_of, needs_smoke_extra, process_gone, smoke_settings

pytestmark = [pytest.mark.smoke, needs_smoke_extra]
EVENT_TIMEOUT_S = 120.0


async def fault(runner, folder, name, *fragments, process_survives=False, **smoke):
    """Run a faulty fixture; check it is reported on a line of `fragments` and what became of its process."""
    path, text = fixture(name)
    runner.warm_up()
    pid = runner.child_pid
    [diagnostic] = await runner.run(path, text, smoke_settings(folder, **smoke))
    assert diagnostic.code == "NPL905"
    assert diagnostic.span.line in {line_of(text, fragment) for fragment in fragments}
    assert process_gone(pid) != process_survives
    return diagnostic


async def still_serving(runner, folder):
    path, text = fixture("raises.py")
    [diagnostic] = await runner.run(path, text, smoke_settings(folder))
    assert "n must be at most 2" in diagnostic.message


async def test_infinite_loop_is_stopped_at_the_time_limit(runner, folder):
    # Python attributes the loop's back edge to the `while` line: either line is the loop.
    diagnostic = await fault(runner, folder, "infinite_loop.py", "while True", "n += 1", timeout_s=3)
    assert "did not finish within 3 s (smoke.timeout-s)" in diagnostic.message
    assert "tracing the model" in diagnostic.message
    await still_serving(runner, folder)


async def test_os_exit_is_reported_where_it_was_called(runner, folder):
    diagnostic = await fault(runner, folder, "exits.py", "    os._exit(3)")
    assert "os._exit(3)" in diagnostic.message
    await still_serving(runner, folder)


async def test_allocating_50_gb_fails_within_the_memory_cap(runner, folder):
    # The address-space cap makes the allocation fail at once: a MemoryError, and the process lives on.
    diagnostic = await fault(runner, folder, "allocates_50gb.py", "np.ones(50 * 2**30", process_survives=True)
    assert "MemoryError" in diagnostic.message and "smoke.memory-mb" in diagnostic.message
    await still_serving(runner, folder)


async def test_segfault_is_reported_on_the_line_that_crashed(runner, folder):
    diagnostic = await fault(runner, folder, "segfault.py", "ctypes.string_at(0)")
    assert "crashed (SIGSEGV)" in diagnostic.message
    await still_serving(runner, folder)


async def test_cancelling_a_run_kills_its_work(runner, folder):
    path, text = fixture("infinite_loop.py")
    started = asyncio.Event()
    runner.on_progress = lambda _path, message: started.set() if message.startswith("tracing") else None
    runner.warm_up()
    pid = runner.child_pid
    try:
        task = asyncio.create_task(runner.run(path, text, smoke_settings(folder)))
        await asyncio.wait_for(started.wait(), EVENT_TIMEOUT_S)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        runner.on_progress = None
    assert process_gone(pid)
    assert runner.child_pid not in (None, pid)  # a fresh runner is already warming up
    await still_serving(runner, folder)


async def test_no_runner_process_left_after_close(folder):
    runner = SmokeRunner(smoke_settings(folder).smoke)
    path, text = fixture("raises.py")
    await runner.run(path, text, smoke_settings(folder))
    pid = runner.child_pid
    assert pid is not None
    runner.close()
    assert runner.child_pid is None and process_gone(pid)
