"""SmokeRunner as the server uses it: one warm child, cached results, recycling, the child's
environment, and a clear error when the runner cannot start."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from numpyro_lint.runner.client import RunnerUnavailable, SmokeRunner
from smoke_helpers import folder_fixture, runner_fixture  # noqa: F401 - the fixtures folder, runner
from smoke_helpers import codes_by_line, fixture, line_of, needs_smoke_extra, process_gone, smoke_settings

pytestmark = [pytest.mark.smoke, needs_smoke_extra]


class Counter:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, path: str, message: str) -> None:
        self.messages.append(message)


async def test_same_text_and_comment_only_edits_are_cache_hits(runner, folder):
    path, text = fixture("raises.py")
    counter = Counter()
    runner.on_progress = counter
    try:
        first = await runner.run(path, text, smoke_settings(folder))
        assert counter.messages  # the child ran it
        counter.messages.clear()
        assert await runner.run(path, text, smoke_settings(folder)) == first
        edited = "# a comment that moves every line down\n" + text.replace('got {n}")', 'got {n}")  # why')
        moved = await runner.run(path, edited, smoke_settings(folder))
        assert counter.messages == []  # nothing ran: cache hits
    finally:
        runner.on_progress = None
    assert codes_by_line(moved) == [(line_of(edited, "raise ValueError"), "NPL905")]
    assert codes_by_line(first) == [(line_of(text, "raise ValueError"), "NPL905")]


async def test_code_edits_and_setting_changes_rerun(runner, folder):
    path, text = fixture("raises.py")
    await runner.run(path, text, smoke_settings(folder))
    edited = text.replace("got {n}", "got n={n}")
    [diagnostic] = await runner.run(path, edited, smoke_settings(folder))
    assert "got n=3" in diagnostic.message


async def test_results_on_disk_survive_a_new_runner(folder):
    path, text = fixture("raises.py")
    settings = smoke_settings(folder, disk_cache=True)
    first_runner = SmokeRunner(settings.smoke)
    try:
        first = await first_runner.run(path, text, settings)
    finally:
        first_runner.close()
    second_runner = SmokeRunner(settings.smoke)
    try:
        assert await second_runner.run(path, text, settings) == first
        assert second_runner.child_pid is None  # answered from disk: no process started
    finally:
        second_runner.close()


async def test_runner_is_recycled_after_recycle_after_runs(folder):
    settings = smoke_settings(folder, recycle_after=1)
    runner = SmokeRunner(settings.smoke)
    try:
        path, text = fixture("raises.py")
        await runner.run(path, text, settings)
        runner.warm_up()
        first = runner.child_pid
        await runner.run(path, text.replace("got {n}", "got {n}!"), settings)
        second = runner.child_pid
        assert second is not None and second != first and process_gone(first)
    finally:
        runner.close()


async def test_child_environment_cpu_no_preallocation_capped_address_space(runner, folder):
    path, text = fixture("environment.py")
    [diagnostic] = await runner.run(path, text, smoke_settings(folder))
    assert "platforms=cpu" in diagnostic.message
    assert "preallocate=false" in diagnostic.message
    limit = int(re.search(r"address_space_limit=(-?\d+)", diagnostic.message).group(1))
    assert 2048 * 2**20 < limit < 64 * 2**30  # smoke.memory-mb on top of what the imports reserved


async def test_persistent_compilation_cache_is_written_to_the_cache_dir(runner, folder):
    path, text = fixture("well_conditioned.py")
    await runner.run(path, text, smoke_settings(folder, seed=11))
    assert any((folder / "jax").iterdir())


async def test_interpreter_without_jax_is_a_clear_error(folder, tmp_path):
    settings = smoke_settings(folder, python="/usr/bin/python3")
    if subprocess.run(["/usr/bin/python3", "-c", "import jax"], capture_output=True).returncode == 0:
        pytest.skip("/usr/bin/python3 has JAX")
    runner = SmokeRunner(settings.smoke)
    path, text = fixture("raises.py")
    try:
        with pytest.raises(RunnerUnavailable, match="jax"):
            await runner.run(path, text, settings)
    finally:
        runner.close()
    missing = smoke_settings(folder, python=str(tmp_path / "no-such-python"))
    with pytest.raises(RunnerUnavailable, match="cannot start"):
        await SmokeRunner(missing.smoke).run(path, text, missing)


def test_server_side_modules_never_import_jax():
    modules = [f"runner.{name}" for name in ("client", "process", "targets", "placement", "cache", "protocol", "docs")]
    code = (
        "import sys\n"
        + "".join(f"import numpyro_lint.{module}\n" for module in [*modules, "commands.smoke"])
        + "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib', 'numpyro'))\n"
        + "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
