-- Headless unit test of the panel's text: the server's usage line, and retrying/paused tasks.
-- No server: `dals.client` is replaced by a stand-in that answers with the summaries below
-- (shaped like the server's TaskSummary, docs/protocol.md).
--
--   nvim --headless --clean -u tests/panel_test.lua
--
-- Environment: DALS_TEST_PLUGIN (this plugin's directory), DALS_TEST_RESULT (the JSON result).
-- Run by tests/e2e/test_neovim_client.py.
local plugin = assert(os.getenv('DALS_TEST_PLUGIN'), 'DALS_TEST_PLUGIN')
local result_path = assert(os.getenv('DALS_TEST_RESULT'), 'DALS_TEST_RESULT')
vim.opt.runtimepath:prepend(plugin)

local result = { checks = {}, failures = {}, texts = {} }

local function check(name, ok, info)
  result.checks[name] = ok and true or false
  if not ok then
    table.insert(result.failures, name .. (info ~= nil and (': ' .. vim.inspect(info)) or ''))
  end
end

local function has(lines, text)
  return vim.iter(lines):any(function(l)
    return l:find(text, 1, true) ~= nil
  end)
end

local REASON = 'openai-chat:gpt-4.1: 429 Too Many Requests (rate limit reached for requests)'

local function summary(over)
  return vim.tbl_extend('force', {
    taskId = '20261127-060000-aaaaaa', title = 'Fix the tests', status = 'succeeded', steps = 7,
    mode = 'auto', model = 'openai-chat:gpt-4.1', workspace = '/tmp/project', prompt = 'Fix the tests',
    lastSeq = 3, lastFailure = vim.NIL,
    usageLine = '7 steps, 4 model requests (2 replayed, 9,120 tokens saved ~$0.0190), 12,345/678 tokens in/out, cost ~$0.0312',
    usage = {
      requests = 4, inputTokens = 12345, outputTokens = 678, toolCalls = 3, costUsd = 0.0312,
      replayedRequests = 2, replayedInputTokens = 9000, replayedOutputTokens = 120, savedUsd = 0.01896,
    },
    events = {},
  }, over or {})
end

local function main()
  local panel = require('dals.panel')
  local tasks = require('dals.tasks')
  local client = require('dals.client')

  -- A stand-in for the server: dals.showTask / dals.listTasks answer from `served`.
  local served, sent = {}, {}
  client.get = function()
    return { id = 1 }
  end
  client.exec = function(command, arg, _, on_result)
    table.insert(sent, { command = command, taskId = arg.taskId })
    local answer
    if command == 'dals.showTask' then
      answer = served[arg.taskId]
    elseif command == 'dals.listTasks' then
      answer = { tasks = vim.tbl_values(served) }
      table.sort(answer.tasks, function(a, b)
        return a.taskId > b.taskId
      end)
    else
      answer = { taskId = arg.taskId, status = 'running' }
    end
    if on_result then
      on_result(vim.deepcopy(answer), { id = 1 })
    end
  end

  -- The events view of a finished task that replayed from the journal.
  local done = summary()
  served[done.taskId] = done
  panel.show(done.taskId)
  local dbuf = panel.bufs['dals://task/' .. done.taskId]
  local detail = vim.api.nvim_buf_get_lines(dbuf, 0, -1, false)
  result.texts.detail_done = detail
  -- the server's own usage line, as it sent it
  check('detail_usage_line', has(detail, 'Usage:        ' .. done.usageLine), detail)
  check('detail_no_failure_line', not has(detail, 'Last failure:'), detail)

  -- A paused task: the reason, and how to resume it.
  local paused = summary({
    taskId = '20261127-060100-bbbbbb', title = 'Refactor', status = 'paused', lastFailure = REASON, steps = 2,
    usage = { requests = 1, inputTokens = 1200, outputTokens = 30, costUsd = 0.00264, replayedRequests = 0 },
    usageLine = '2 steps, 1 model request (0 replayed), 1,200/30 tokens in/out, cost ~$0.0026',
    events = {
      { seq = 1, kind = 'status', status = 'running', title = 'Task started', at = '2026-11-27T06:01:00.000Z' },
      { seq = 2, kind = 'status', status = 'retrying', at = '2026-11-27T06:01:01.000Z',
        title = 'Retrying in 0.4 s (attempt 1 of 2 failed): ' .. REASON,
        detail = { reason = REASON, attempt = 1, maxAttempts = 2, delayS = 0.4 } },
      { seq = 3, kind = 'status', status = 'paused', at = '2026-11-27T06:01:02.000Z',
        title = 'Paused after 2 failed attempts: ' .. REASON, detail = { reason = REASON, attempts = 2 } },
    },
  })
  served[paused.taskId] = paused
  panel.show(paused.taskId)
  local pbuf = panel.bufs['dals://task/' .. paused.taskId]
  local pdetail = vim.api.nvim_buf_get_lines(pbuf, 0, -1, false)
  result.texts.detail_paused = pdetail
  check('detail_header_says_resume', pdetail[1] == ('Task %s  paused  (r retries now)'):format(paused.taskId), pdetail[1])
  check('detail_last_failure_line', has(pdetail, 'Last failure: ' .. REASON), pdetail)
  check('detail_usage_cost', has(pdetail, 'Usage:        ' .. paused.usageLine), pdetail)
  check('detail_shows_paused_event', has(pdetail, 'Paused after 2 failed attempts: ' .. REASON), pdetail)
  local marks = vim.api.nvim_buf_get_extmarks(pbuf, -1, 0, -1, { details = true })
  check('detail_highlights_status', vim.iter(marks):any(function(m)
    return m[2] == 0 and m[4].hl_group == 'DiagnosticError'
  end), marks)

  -- Live events bring the task's summary (retrying then paused with the reason, "Resumed" without):
  -- the client keeps it, and counts nothing itself.
  local live = '20261127-060200-cccccc'
  local ctx = { client_id = 1 }
  local ev = function(seq, status, title, d)
    local why = d and d.reason or vim.NIL
    return { taskId = live, seq = seq, kind = 'status', status = status, title = title, at = 'x', detail = d,
      summary = { taskId = live, title = 'Live', status = status, lastSeq = seq, steps = 0, lastFailure = why,
        usageLine = '0 steps' } }
  end
  tasks.on_event(nil, ev(1, 'running', 'Task started'), ctx)
  tasks.on_event(nil, ev(2, 'retrying', 'Retrying in 0.2 s (attempt 1 of 12 failed): ' .. REASON,
    { reason = REASON, attempt = 1, maxAttempts = 12, delayS = 0.2 }), ctx)
  check('event_retrying_sets_failure', tasks.get(live).status == 'retrying' and tasks.get(live).lastFailure == REASON,
    tasks.get(live))
  check('statusline_counts_retrying', require('dals').statusline():find('DALS: 1 retrying', 1, true) ~= nil,
    require('dals').statusline())
  tasks.on_event(nil, ev(3, 'paused', 'Paused after 12 failed attempts: ' .. REASON, { reason = REASON, attempts = 12 }), ctx)
  check('event_paused_keeps_failure', tasks.get(live).status == 'paused' and tasks.get(live).lastFailure == REASON)
  result.texts.statusline = require('dals').statusline()

  -- The panel: retrying and paused stand out, with their reason.
  local retrying = summary({ taskId = '20261127-060300-dddddd', title = 'Count', status = 'retrying', steps = 1,
    lastFailure = REASON, usage = { requests = 1 } })
  served[retrying.taskId] = retrying
  served[done.taskId] = nil
  panel.open()
  local lines = vim.api.nvim_buf_get_lines(panel.buf, 0, -1, false)
  result.texts.panel = lines
  local function line_of(id)
    for lnum, tid in pairs(panel.line_tasks) do
      if tid == id then
        return lnum, lines[lnum]
      end
    end
  end
  local rline, rtext = line_of(retrying.taskId)
  local pline, ptext = line_of(paused.taskId)
  check('panel_retrying_reason', rtext and vim.startswith(rtext, 'retrying ')
    and rtext:find('[retrying: ' .. REASON .. '; r resumes]', 1, true) ~= nil, rtext)
  check('panel_paused_reason', ptext and vim.startswith(ptext, 'paused ')
    and ptext:find('[paused: ' .. REASON .. '; r resumes]', 1, true) ~= nil, ptext)
  local pmarks = vim.api.nvim_buf_get_extmarks(panel.buf, -1, 0, -1, { details = true })
  local function hl_at(lnum)
    return vim.iter(pmarks):filter(function(m)
      return m[2] == lnum - 1 and m[3] == 0
    end):map(function(m)
      return m[4].hl_group
    end):totable()
  end
  check('panel_status_highlights', vim.deep_equal(hl_at(rline), { 'DiagnosticWarn' })
    and vim.deep_equal(hl_at(pline), { 'DiagnosticError' }), { hl_at(rline), hl_at(pline) })

  -- `r` on the retrying task's line resumes it (dals.resumeTask), like a paused one.
  vim.api.nvim_win_set_cursor(vim.fn.bufwinid(panel.buf), { rline, 0 })
  vim.cmd('normal r')
  local last = sent[#sent]
  check('r_resumes_retrying', last.command == 'dals.resumeTask' and last.taskId == retrying.taskId, sent)

  -- `:Dals resume <Tab>` offers the resumable tasks first.
  tasks.on_event(nil, ev(4, 'running', 'Resumed'), ctx)
  check('event_resumed_clears_failure', tasks.get(live).status == 'running' and tasks.get(live).lastFailure == nil)
  local offered = require('dals.commands').complete('', 'Dals resume ')
  result.texts.resume_completion = offered
  check('resume_completes_failing_first', offered[1] == retrying.taskId and offered[2] == paused.taskId, offered)
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  table.insert(result.failures, 'error: ' .. tostring(err))
end
local f = assert(io.open(result_path, 'w'))
f:write(vim.json.encode(result))
f:close()
vim.cmd('qall!')
