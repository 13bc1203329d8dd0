--- Finding the `dals` LSP client and calling the server's `dals.*` commands
--- (`workspace/executeCommand`, one object argument, one object result).
local M = {}

M.name = 'dals'

--- The dals client attached to `bufnr`, else any running dals client.
--- @param bufnr integer?
--- @return vim.lsp.Client?
function M.get(bufnr)
  local clients = vim.lsp.get_clients({ name = M.name, bufnr = bufnr or 0 })
  if #clients == 0 then
    clients = vim.lsp.get_clients({ name = M.name })
  end
  return clients[1]
end

local function when_initialized(client, fn, waited)
  if client.initialized then
    return fn()
  end
  waited = waited or 0
  if waited > 30000 then
    return vim.notify('DALS: the language server did not initialize', vim.log.levels.ERROR)
  end
  vim.defer_fn(function()
    when_initialized(client, fn, waited + 50)
  end, 50)
end

--- Run a `dals.*` command.
--- @param command string e.g. 'dals.startTask'
--- @param arg table the command's single argument
--- @param opts? {bufnr?: integer, client_id?: integer, on_error?: fun(err: table), quiet?: boolean}
--- @param on_result? fun(result: table, client: vim.lsp.Client)
function M.exec(command, arg, opts, on_result)
  opts = opts or {}
  local bufnr = opts.bufnr or vim.api.nvim_get_current_buf()
  local client = opts.client_id and vim.lsp.get_client_by_id(opts.client_id) or M.get(bufnr)
  if not client then
    local msg = 'DALS: no dals language server is running (open a file inside a project; see :checkhealth vim.lsp)'
    if opts.on_error then
      return opts.on_error({ message = msg })
    end
    return vim.notify(msg, vim.log.levels.ERROR)
  end
  local function handler(err, result)
    if err then
      if opts.on_error then
        opts.on_error(err)
      elseif not opts.quiet then
        vim.notify(('DALS %s: %s'):format(command, err.message or vim.inspect(err)), vim.log.levels.ERROR)
      end
    elseif on_result then
      on_result(result, client)
    end
  end
  when_initialized(client, function()
    if arg == nil or next(arg) == nil then
      arg = vim.empty_dict() -- an object, not `[]`
    end
    local cmd = { title = command, command = command, arguments = { arg } }
    if client.exec_cmd then -- Neovim 0.11
      client:exec_cmd(cmd, { bufnr = bufnr }, handler)
    else -- Neovim 0.10
      client.request('workspace/executeCommand', { command = command, arguments = cmd.arguments }, handler, bufnr)
    end
  end)
end

return M
