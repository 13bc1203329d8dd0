-- The `dals` language server for Neovim 0.11's `vim.lsp.config` / `vim.lsp.enable('dals')`.
--
-- Override anything with vim.lsp.config('dals', {...}); settings go in the `dals` section:
--   vim.lsp.config('dals', { settings = { dals = {
--     model = 'anthropic:claude-sonnet-4-5', approval = 'review',
--     commands = { allow = { 'pytest', 'ruff' } },
--   } } })
-- The command is `<root>/.venv/bin/dals lsp` when that exists, else `dals lsp`;
-- set vim.g.dals_cmd (a path, or a full command list) to choose another.
return require('dals.config').lsp_config()
