-- Headless end-to-end test of the agent's editor tools in a real Neovim against a real `dals lsp`:
-- a diagnostic set with vim.diagnostic.set reaches the model through `diagnostics`, and
-- `multi_edit` of the open file goes through the buffer (workspace/applyEdit, unsaved).
--
--   nvim --headless --clean -u tests/agent_tools_test.lua
--
-- Environment: DALS_TEST_PLUGIN, DALS_TEST_WORKSPACE (with app.py and .venv/bin/dals),
-- DALS_TEST_RESULT (JSON result), DALS_TEST_MODEL, DALS_TEST_PROMPT (the task's plan). The pytest
-- wrapper is tests/e2e/test_neovim_agent_tools.py.
local plugin = assert(os.getenv('DALS_TEST_PLUGIN'), 'DALS_TEST_PLUGIN')
local workspace = assert(os.getenv('DALS_TEST_WORKSPACE'), 'DALS_TEST_WORKSPACE')
local result_path = assert(os.getenv('DALS_TEST_RESULT'), 'DALS_TEST_RESULT')
local model = os.getenv('DALS_TEST_MODEL') or 'offline'
local prompt = assert(os.getenv('DALS_TEST_PROMPT'), 'DALS_TEST_PROMPT')

vim.opt.runtimepath:prepend(plugin)
vim.cmd('filetype on')

local result = { checks = {}, failures = {}, events = {} }

local function check(name, ok, info)
  result.checks[name] = ok and true or false
  if not ok then
    table.insert(result.failures, name .. (info and (': ' .. vim.inspect(info)) or ''))
  end
end

local function wait(what, cond, timeout)
  if not vim.wait(timeout or 90000, cond, 50) then
    error('timed out waiting for ' .. what, 2)
  end
end

local FINAL = { succeeded = true, failed = true, cancelled = true }

local function main()
  require('dals').setup({ settings = { dals = { model = model } } })
  local file = vim.fs.joinpath(workspace, 'app.py')
  vim.cmd.edit(file)
  local buf = vim.api.nvim_get_current_buf()
  local client
  wait('the dals client to initialize', function()
    client = vim.lsp.get_clients({ name = 'dals', bufnr = buf })[1]
    return client ~= nil and client.initialized
  end, 30000)
  check('advertises_diagnostics', vim.tbl_get(client.capabilities, 'experimental', 'dals', 'diagnostics') == true,
    client.capabilities.experimental)

  -- What a language server (say pyright) would have published for this buffer.
  local ns = vim.api.nvim_create_namespace('fake-pyright')
  vim.diagnostic.set(ns, buf, { {
    lnum = 1, col = 11, end_lnum = 1, end_col = 18, severity = vim.diagnostic.severity.ERROR,
    source = 'pyright', code = 'reportReturnType', message = 'Type "str" is not assignable to return type "int"',
  } })

  local dals_client = require('dals.client')
  local task_id
  dals_client.exec('dals.startTask', { prompt = prompt }, { bufnr = buf }, function(res)
    task_id = res.taskId
  end)
  wait('the task to start', function()
    return task_id ~= nil
  end)
  local shown, asking = nil, false
  wait('the task to end', function()
    if not asking then
      asking = true
      dals_client.exec('dals.showTask', { taskId = task_id }, { bufnr = buf, quiet = true }, function(res)
        asking = false
        if FINAL[res.status] then
          shown = res
        end
      end)
    end
    return shown ~= nil
  end, 120000)
  check('task_succeeded', shown.status == 'succeeded', { status = shown.status, error = shown.error })
  for _, ev in ipairs(shown.events or {}) do
    table.insert(result.events, { kind = ev.kind, title = ev.title, detail = ev.detail })
  end
  local text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
  check('buffer_has_multi_edit', text == "def welcome():\n    return 'hi'", text)
  check('edit_went_through_the_buffer', vim.bo[buf].modified)
  local f = assert(io.open(file))
  local disk = f:read('*a')
  f:close()
  check('disk_unchanged_until_saved', disk == "def greet():\n    return 'hello'\n", disk)
end

local ok, err = pcall(main)
if not ok then
  table.insert(result.failures, 'error: ' .. tostring(err))
end
local out = assert(io.open(result_path, 'w'))
out:write(vim.json.encode(result))
out:close()
vim.cmd('qa!')
