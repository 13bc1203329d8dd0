--- Options of the DALS client and the LSP configuration built from them.
---
--- `lsp/dals.lua` (Neovim 0.11 `vim.lsp.config`) and the Neovim 0.10 fallback in
--- `require('dals').setup()` both start the server from `M.lsp_config()`.
local M = {}

M.root_markers = { '.git', 'pyproject.toml', '.dals.toml' }

--- Set by `require('dals').setup(opts)`.
--- @class dals.Options
--- @field cmd? string|string[] the server command; a string is the `dals` executable
--- @field settings? table `{ dals = { model, approval, commands = { allow }, restate = {...} } }`
--- @field enable? boolean start the client automatically (default true)
M.options = {}

--- The command that starts `dals lsp` for a workspace root.
--- Order: `setup{ cmd = ... }`, then `vim.g.dals_cmd`, then `<root>/.venv/bin/dals`
--- if it is executable, then `dals` from PATH.
--- @param root string?
--- @return string[]
function M.resolve_cmd(root)
  local cmd = M.options.cmd or vim.g.dals_cmd
  if type(cmd) == 'string' then
    return { cmd, 'lsp' }
  elseif type(cmd) == 'table' and cmd[1] then
    return vim.deepcopy(cmd)
  end
  if root then
    local venv = vim.fs.joinpath(root, '.venv', 'bin', 'dals')
    if vim.fn.executable(venv) == 1 then
      return { venv, 'lsp' }
    end
  end
  return { 'dals', 'lsp' }
end

--- The `dals` section of a client's settings, or `{}`.
--- @param client vim.lsp.Client?
--- @return table
function M.section(client)
  local settings = client and (client.settings or (client.config or {}).settings) or {}
  return type(settings.dals) == 'table' and settings.dals or {}
end

--- @return vim.lsp.Config
function M.lsp_config()
  local handlers = require('dals.tasks').handlers
  return {
    -- A function, so that the command can depend on the workspace root (`.venv/bin/dals`).
    cmd = function(dispatchers, config)
      local root = config and config.root_dir or vim.fs.root(0, M.root_markers)
      return vim.lsp.rpc.start(M.resolve_cmd(root), dispatchers, {
        cwd = config and config.cmd_cwd or root,
        env = config and config.cmd_env,
      })
    end,
    -- No `filetypes`: DALS works on any file of a workspace, whatever its language.
    root_markers = M.root_markers,
    workspace_required = true,
    settings = M.options.settings,
    before_init = function(params, config)
      -- The same settings go out as initializationOptions and answer workspace/configuration.
      if config.settings then
        params.initializationOptions = config.settings
      end
    end,
    handlers = handlers,
    -- Tells the server this client answers `dals/diagnostics` (lua/dals/diagnostics.lua).
    capabilities = vim.tbl_deep_extend('force', vim.lsp.protocol.make_client_capabilities(),
      require('dals.diagnostics').capabilities),
  }
end

return M
