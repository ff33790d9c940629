-- Neovim 0.11+ reads `lsp/<name>.lua` from the runtimepath: with editors/neovim on it,
-- `vim.lsp.enable("numpyro_lint")` is all the setup needed (override with vim.lsp.config("numpyro_lint", {...})).
return require("numpyro_lint").config()
