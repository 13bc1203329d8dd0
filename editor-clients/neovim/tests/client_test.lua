-- Headless end-to-end test of the DALS Neovim client against a real `dals lsp`.
--
--   nvim --headless --clean -u tests/client_test.lua
--
-- Environment: DALS_TEST_PLUGIN (this plugin's directory), DALS_TEST_WORKSPACE (a project with
-- app.py and .venv/bin/dals), DALS_TEST_RESULT (where to write the JSON result), plus
-- DALS_STATE_DIR and DALS_MODEL=offline for the server. The pytest wrapper
-- (tests/e2e/test_neovim_client.py) runs it, stops the runtime and asserts on the result.
local plugin = assert(os.getenv('DALS_TEST_PLUGIN'), 'DALS_TEST_PLUGIN')
local workspace = assert(os.getenv('DALS_TEST_WORKSPACE'), 'DALS_TEST_WORKSPACE')
local result_path = assert(os.getenv('DALS_TEST_RESULT'), 'DALS_TEST_RESULT')

vim.opt.runtimepath:prepend(plugin)
package.path = plugin .. '/tests/?.lua;' .. package.path
vim.cmd('filetype on')

local h = require('e2e.harness')
local result, check, wait = h.result, h.check, h.wait

local function main()
  -- Capture what the user would see.
  local real_notify = vim.notify
  vim.notify = function(msg, level, opts)
    table.insert(result.notifications, { msg = msg, level = level })
    return real_notify(msg, level, opts)
  end
  vim.api.nvim_create_autocmd('LspProgress', {
    callback = function()
      vim.schedule(function()
        local s = require('dals').statusline()
        if s ~= '' then
          table.insert(result.statusline, s)
        end
      end)
    end,
  })

  -- The plugin as a user sets it up; the command comes from <root>/.venv/bin/dals.
  local dals = require('dals')
  local tasks = require('dals.tasks')
  local panel = require('dals.panel')
  dals.setup({ settings = { dals = { model = 'offline', commands = { allow = { 'pytest' } } } } })
  local venv_dals = vim.fs.joinpath(workspace, '.venv', 'bin', 'dals')
  check('cmd_prefers_root_venv', require('dals.config').resolve_cmd(workspace)[1] == venv_dals,
    require('dals.config').resolve_cmd(workspace))

  local file = vim.fs.joinpath(workspace, 'app.py')
  vim.cmd.edit(file)
  local buf = vim.api.nvim_get_current_buf()
  local client
  wait('the dals client to initialize', function()
    client = vim.lsp.get_clients({ name = 'dals', bufnr = buf })[1]
    return client ~= nil and client.initialized
  end, 30000)
  check('client_root_is_workspace', client.root_dir == workspace, client.root_dir)
  local provider = client.server_capabilities.executeCommandProvider or {}
  check('server_advertises_startTask', vim.tbl_contains(provider.commands or {}, 'dals.startTask'))
  check('settings_in_client_config', vim.deep_equal(client.config.settings, {
    dals = { model = 'offline', commands = { allow = { 'pytest' } } } }))

  -- Record the executeCommand requests the plugin sends.
  local request = client.request
  client.request = function(self, method, params, ...)
    if method == 'workspace/executeCommand' then
      table.insert(result.requests, params)
    end
    return request(self, method, params, ...)
  end

  local c = { dals = dals, tasks = tasks, panel = panel, client = client, buf = buf, file = file, workspace = workspace }
  for _, scene in ipairs({ 'first_task', 'cancel_undo', 'positions', 'approvals' }) do
    require('e2e.' .. scene)(c)
  end
end

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  nested = true, -- let :edit inside fire BufRead/FileType (and so start the client)
  callback = function()
    local ok, err = xpcall(main, debug.traceback)
    if not ok then
      result.error = err
      table.insert(result.failures, 'error: ' .. tostring(err))
    end
    result.ok = #result.failures == 0
    local f = assert(io.open(result_path, 'w'))
    f:write(vim.json.encode(result))
    f:close()
    vim.cmd('qall!')
  end,
})
