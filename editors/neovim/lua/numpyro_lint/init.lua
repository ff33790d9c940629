-- numpyro-lint for Neovim's built-in LSP client.
--
--   Neovim 0.11+:     require("numpyro_lint").enable(opts)     (vim.lsp.config + vim.lsp.enable)
--   Neovim 0.8-0.10:  require("numpyro_lint").autostart(opts)  (vim.lsp.start from a FileType autocmd)
--   either:           require("numpyro_lint").setup(opts)      (picks by version)
--
-- opts (all optional): cmd, filetypes, root_markers, init_options, settings (the `numpyro-lint` table:
-- kebab-case keys as in [tool.numpyro-lint] of pyproject.toml). See editors/neovim/README.md.
local M = {}

M.name = "numpyro_lint"

local defaults = {
  cmd = { "numpyro-lint", "server" },
  filetypes = { "python", "markdown", "quarto", "rst" },
  root_markers = { "pyproject.toml", "setup.cfg", "setup.py", ".git" },
  init_options = vim.empty_dict(),
  settings = { ["numpyro-lint"] = vim.empty_dict() },
}

--- The client configuration: the defaults with `opts` over them.
function M.config(opts)
  return vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
end

local function root_dir(bufnr, markers)
  local path = vim.api.nvim_buf_get_name(bufnr)
  local found = vim.fs.find(markers, { upward = true, path = vim.fs.dirname(path) })[1]
  return found and vim.fs.dirname(found) or vim.fs.dirname(path)
end

--- Neovim 0.11+: register the configuration and enable it for its filetypes.
function M.enable(opts)
  vim.lsp.config(M.name, M.config(opts))
  vim.lsp.enable(M.name)
end

--- Neovim 0.8+: start (or attach to) the server whenever a buffer of one of the filetypes opens.
function M.autostart(opts)
  local config = M.config(opts)
  local group = vim.api.nvim_create_augroup("numpyro_lint", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = config.filetypes,
    callback = function(event)
      if vim.bo[event.buf].buftype ~= "" then
        return
      end
      vim.lsp.start({
        name = M.name,
        cmd = config.cmd,
        root_dir = root_dir(event.buf, config.root_markers),
        init_options = config.init_options,
        settings = config.settings,
      }, { bufnr = event.buf })
    end,
  })
end

function M.setup(opts)
  if vim.lsp.config ~= nil and vim.lsp.enable ~= nil then
    M.enable(opts)
  else
    M.autostart(opts)
  end
end

return M
