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
local TIMEOUT = tonumber(os.getenv('DALS_TEST_TIMEOUT_MS') or '') or 90000

vim.opt.runtimepath:prepend(plugin)
vim.cmd('filetype on')

local result = { checks = {}, failures = {}, skipped = {}, notifications = {}, statusline = {}, requests = {}, timings = {} }

local function check(name, ok, info)
  result.checks[name] = ok and true or false
  if not ok then
    table.insert(result.failures, name .. (info and (': ' .. vim.inspect(info)) or ''))
  end
  return ok
end

local function wait(what, cond, timeout)
  local t0 = vim.uv.hrtime()
  local ok = vim.wait(timeout or TIMEOUT, cond, 50)
  table.insert(result.timings, { what, math.floor((vim.uv.hrtime() - t0) / 1e6) })
  if not ok then
    error('timed out waiting for ' .. what, 2)
  end
end

local function lines(buf)
  return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end

local function read_file(path)
  local f = assert(io.open(path))
  local text = f:read('*a')
  f:close()
  return text
end

--- The id of the next task the plugin learns about (tasks.order grows by one).
local seen_tasks = 0
local function next_task(tasks, what, timeout)
  wait(what, function()
    return #tasks.order > seen_tasks
  end, timeout)
  seen_tasks = seen_tasks + 1
  return tasks.order[seen_tasks]
end

--- Wait until the buffer's first line is `first`. A task's edit reaches the buffer either through
--- workspace/applyEdit (the buffer is then modified: save it, as a user would) or on disk (the
--- plugin's :checktime reloads the buffer). Returns whether it arrived, and how.
local function settle(buf, first)
  local ok = vim.wait(15000, function()
    return vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == first
  end, 50)
  local route = vim.bo[buf].modified and 'applyEdit' or 'disk'
  if ok and vim.bo[buf].modified then
    vim.api.nvim_buf_call(buf, function()
      vim.cmd('silent write')
    end)
  end
  return ok, route
end

local function final_event(tasks, id)
  local evs = tasks.events(id)
  local last = evs[#evs]
  return last and tasks.FINAL[last.status] and last or nil
end

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

  -- The panel, opened before the task: it must fill in from live events.
  vim.cmd('Dals tasks')
  check('panel_opened', panel.buf ~= nil and vim.api.nvim_get_current_buf() == panel.buf)
  vim.cmd.wincmd('p')
  check('back_in_file', vim.api.nvim_get_current_buf() == buf)

  -- Visually select lines 1-2 and start a task on them.
  vim.cmd('normal! ggVj\27')
  vim.cmd("'<,'>Dals start Explain")
  local id = next_task(tasks, 'dals.startTask to answer (the runtime starts first)', 150000)
  result.task_id = id
  local function last_request(command)
    for i = #result.requests, 1, -1 do
      if result.requests[i].command == command then
        return result.requests[i]
      end
    end
    return {}
  end
  local start = last_request('dals.startTask')
  local arg = (start.arguments or {})[1] or {}
  check('start_sent_prompt_uri', start.command == 'dals.startTask' and arg.prompt == 'Explain'
    and arg.uri == vim.uri_from_fname(file), start)
  check('start_sent_selection_range', arg.range ~= nil and arg.range.start.line == 0
    and arg.range.start.character == 0 and arg.range['end'].line == 1, arg.range)

  wait('the task to end', function()
    return final_event(tasks, id) ~= nil
  end)
  local evs = tasks.events(id)
  local seqs = vim.tbl_map(function(e) return e.seq end, evs)
  check('events_contiguous_from_1', #seqs > 0 and seqs[#seqs] == #seqs and seqs[1] == 1, seqs)
  check('task_succeeded', evs[#evs].status == 'succeeded', evs[#evs])
  result.event_titles = vim.tbl_map(function(e) return e.title end, evs)
  check('edit_event_received', vim.iter(evs):any(function(e) return e.kind == 'edit' end))

  -- The buffer reloads by itself (the plugin runs :checktime on the task's edit events).
  local arrived, route = settle(buf, '# DALS: Explain')
  result.edit_route = route
  check('buffer_has_edit', arrived, lines(buf))
  check('file_changed_on_disk', vim.startswith(read_file(file), '# DALS: Explain\n'), read_file(file))

  -- The panel lists the task with its final status, refreshed from events.
  local panel_ok = vim.wait(10000, function()
    return vim.iter(lines(panel.buf)):any(function(l)
      return l:find(id, 1, true) and l:find('succeeded', 1, true) and l:find('Explain', 1, true)
    end)
  end, 50)
  result.panel = lines(panel.buf)
  check('panel_lists_task', panel_ok, result.panel)

  -- <CR> on the task's line shows its events.
  local panel_win = vim.fn.bufwinid(panel.buf)
  vim.api.nvim_set_current_win(panel_win)
  local line_of_task
  for lnum, tid in pairs(panel.line_tasks) do
    if tid == id then
      line_of_task = lnum
    end
  end
  vim.api.nvim_win_set_cursor(panel_win, { line_of_task, 0 })
  vim.cmd('normal ' .. vim.keycode('<CR>'))
  local detail_ok = vim.wait(10000, function()
    local b = panel.bufs['dals://task/' .. id]
    return b and vim.iter(lines(b)):any(function(l) return l:find('Task succeeded', 1, true) end)
  end, 50)
  check('enter_shows_events', detail_ok)
  if detail_ok then
    result.detail = lines(panel.bufs['dals://task/' .. id])
    check('events_view_focused', vim.api.nvim_get_current_buf() == panel.bufs['dals://task/' .. id])
  end

  check('statusline_showed_progress', vim.iter(result.statusline):any(function(s)
    return s:find('DALS', 1, true) ~= nil
  end), result.statusline)
  check('notified_task_end', vim.iter(result.notifications):any(function(n)
    return n.msg:find('DALS task succeeded: Explain', 1, true) ~= nil
  end), result.notifications)

  -- Follow up the finished task from the panel (`m` on its line asks for the prompt), then read
  -- its transcript (:DalsTranscript).
  local turn1_last = evs[#evs].seq
  local transcript = require('dals.transcript')
  local deltas, on_delta = {}, transcript.on_delta
  transcript.on_delta = function(params)
    table.insert(deltas, params)
    return on_delta(params)
  end
  vim.cmd('DalsTranscript ' .. id)
  local asked, real_input = {}, vim.ui.input
  vim.ui.input = function(opts, on_confirm)
    table.insert(asked, opts.prompt)
    on_confirm('What is in here?')
  end
  local before_win = vim.api.nvim_get_current_win()
  vim.api.nvim_set_current_win(vim.fn.bufwinid(panel.buf))
  for lnum, tid in pairs(panel.line_tasks) do
    if tid == id then
      vim.api.nvim_win_set_cursor(0, { lnum, 0 })
    end
  end
  vim.cmd('normal m')
  vim.ui.input = real_input
  vim.api.nvim_set_current_win(before_win)
  check('panel_asks_for_a_follow_up', vim.deep_equal(asked, { 'DALS follow-up: ' }), asked)
  wait('the follow-up turn to end', function()
    local last = final_event(tasks, id)
    return last ~= nil and last.seq > turn1_last
  end)
  local after = tasks.events(id)
  local seqs2 = vim.tbl_map(function(e) return e.seq end, after)
  check('follow_up_seq_goes_on', seqs2[#seqs2] == #seqs2 and #seqs2 > turn1_last, seqs2)
  check('follow_up_message_event', vim.iter(after):any(function(e)
    return e.kind == 'message' and e.detail and e.detail.turn == 2 and e.detail.text == 'What is in here?'
  end), after)
  local tbuf = transcript.buffers[id]
  local transcript_ok = vim.wait(10000, function()
    return tbuf and vim.iter(lines(tbuf)):any(function(l) return l:find('follow-up, turn 2', 1, true) end)
  end, 50)
  result.transcript = tbuf and lines(tbuf) or nil
  check('transcript_shows_follow_up', transcript_ok, result.transcript)
  check('transcript_is_markdown', tbuf and vim.bo[tbuf].filetype == 'markdown')
  -- the offline model streamed its answer: the live text came as dals/taskDelta, then the event
  local live = table.concat(vim.tbl_map(function(d) return d.text end, deltas))
  check('live_text_received', live:find('The workspace has', 1, true) ~= nil, deltas)
  -- (the transcript is fetched again, debounced, after the event that ends the live text)
  local live_gone = vim.wait(10000, function()
    return transcript.live[id] == nil and not vim.iter(lines(tbuf)):any(function(l) return l:find('writing', 1, true) end)
  end, 50)
  check('live_text_gone_after_event', live_gone, lines(tbuf))
  vim.api.nvim_set_current_buf(buf)

  -- Cancel a running task with :Dals cancel.
  local cid
  dals.start('Wait\n/run_command {"command": "sleep 30"}', { bufnr = buf }, function(task_id)
    cid = task_id
  end)
  local sleeping = next_task(tasks, 'the sleeping task')
  wait('the start callback', function()
    return cid ~= nil
  end)
  check('start_callback_id', sleeping == cid, { sleeping, cid })
  wait('the sleeping task to start', function()
    return tasks.get(cid).events[1] ~= nil
  end)
  vim.cmd('Dals cancel ' .. cid)
  wait('the cancelled task to end', function()
    return final_event(tasks, cid) ~= nil
  end, 30000)
  check('cancelled', final_event(tasks, cid).status == 'cancelled', tasks.events(cid))

  -- "Undo Task's Edits" (:Dals undo): asks first, listing the files, then removes the created file.
  local uid
  dals.start('Undo me\n/write_file {"path": "undo_me.txt", "content": "made by the task\\n"}', { bufnr = buf },
    function(task_id) uid = task_id end)
  next_task(tasks, 'the task to undo to start') -- keeps the count of tasks seen
  wait('the task to undo to start', function() return uid ~= nil end)
  wait('the task to undo to end', function() return final_event(tasks, uid) ~= nil end, 60000)
  local undo_path = vim.fs.joinpath(vim.fn.getcwd(), 'undo_me.txt')
  check('undo_task_created_file', read_file(undo_path) == 'made by the task\n', read_file(undo_path))
  local asked, select = {}, vim.ui.select
  vim.ui.select = function(_, opts, on_choice)
    table.insert(asked, opts.prompt)
    on_choice('Revert')
  end
  local undone
  dals.undo(uid, { bufnr = buf }, function(r) undone = r end)
  wait('the undo', function() return undone ~= nil end, 60000)
  vim.ui.select = select
  check('undo_asked_with_the_files', #asked == 1 and asked[1]:find('undo_me.txt', 1, true) ~= nil, asked)
  check('undo_removed_created_file', vim.uv.fs_stat(undo_path) == nil
    and #undone.reverted == 1 and undone.reverted[1] == 'undo_me.txt', undone)

  -- Positions and line breaks (issue 17): Neovim negotiates UTF-8; edits after non-ASCII text on
  -- the same line, and in a CRLF file without a final newline, leave the buffer exactly right.
  check('utf8_negotiated', client.offset_encoding == 'utf-8', client.offset_encoding)
  local function run_plan(bufnr, steps)
    local plan = { 'Edit through the editor' }
    for _, step in ipairs(steps) do
      table.insert(plan, '/' .. step[1] .. ' ' .. vim.json.encode(step[2]))
    end
    dals.start(table.concat(plan, '\n'), { bufnr = bufnr })
    local pid = next_task(tasks, 'the plan task to start')
    wait('the plan task to end', function()
      return final_event(tasks, pid) ~= nil
    end)
    return pid
  end
  --- Wait until the server lists `rel` as open in the state dir's editor registry: a task started
  --- before that edits the file on disk, not in the buffer.
  local function wait_published(rel)
    local dir = vim.fs.joinpath(assert(os.getenv('DALS_STATE_DIR')), 'editors')
    wait(rel .. ' published as open', function()
      for _, f in ipairs(vim.fn.glob(dir .. '/*.json', true, true)) do
        if table.concat(vim.fn.readfile(f), '\n'):find('"' .. rel .. '"', 1, true) then
          return true
        end
      end
      return false
    end, 30000)
  end
  local function write_bytes(path, data)
    local f = assert(io.open(path, 'wb'))
    f:write(data)
    f:close()
  end
  local uni = vim.fs.joinpath(workspace, 'uni.py')
  local uni_text = 's = "héllo wörld 😀 café"\nt = 1\n'
  write_bytes(uni, uni_text)
  vim.cmd.edit(uni)
  local ubuf = vim.api.nvim_get_current_buf()
  wait('dals to attach to uni.py', function()
    return vim.lsp.get_clients({ name = 'dals', bufnr = ubuf })[1] ~= nil
  end, 30000)
  wait_published('uni.py')
  local uid = run_plan(ubuf, {
    { 'read_file', { path = 'uni.py' } },
    { 'edit_file', { path = 'uni.py', old = 'wörld', new = 'world' } },
    { 'edit_file', { path = 'uni.py', old = 'café', new = 'coffee ☕' } },
  })
  check('unicode_task_succeeded', final_event(tasks, uid).status == 'succeeded', tasks.events(uid))
  local uni_want = { 's = "héllo world 😀 coffee ☕"', 't = 1' }
  local uni_ok = vim.wait(15000, function()
    return vim.deep_equal(lines(ubuf), uni_want)
  end, 50)
  result.unicode_buffer = lines(ubuf)
  check('unicode_buffer_exact', uni_ok and vim.bo[ubuf].modified, lines(ubuf))
  check('unicode_edit_via_editor', read_file(uni) == uni_text, read_file(uni))

  local crlf = vim.fs.joinpath(workspace, 'crlf.txt')
  write_bytes(crlf, 'one\r\ntwo é 😀\r\nthree')
  vim.cmd.edit(crlf)
  local cbuf = vim.api.nvim_get_current_buf()
  vim.bo[cbuf].fixeol = false -- so that :write shows the buffer's own final-newline state
  check('crlf_detected', vim.bo[cbuf].fileformat == 'dos' and not vim.bo[cbuf].eol,
    { vim.bo[cbuf].fileformat, vim.bo[cbuf].eol })
  wait('dals to attach to crlf.txt', function()
    return vim.lsp.get_clients({ name = 'dals', bufnr = cbuf })[1] ~= nil
  end, 30000)
  wait_published('crlf.txt')
  local xid2 = run_plan(cbuf, {
    { 'read_file', { path = 'crlf.txt' } },
    { 'edit_file', { path = 'crlf.txt', old = '😀', new = '😀 and\na half' } },
    { 'edit_file', { path = 'crlf.txt', old = 'three', new = 'three 3' } },
  })
  check('crlf_task_succeeded', final_event(tasks, xid2).status == 'succeeded', tasks.events(xid2))
  local crlf_want = { 'one', 'two é 😀 and', 'a half', 'three 3' }
  local crlf_ok = vim.wait(15000, function()
    return vim.deep_equal(lines(cbuf), crlf_want)
  end, 50)
  result.crlf_buffer = lines(cbuf)
  check('crlf_buffer_exact', crlf_ok, lines(cbuf))
  check('crlf_kept_dos_noeol', vim.bo[cbuf].fileformat == 'dos' and not vim.bo[cbuf].eol,
    { vim.bo[cbuf].fileformat, vim.bo[cbuf].eol })
  vim.api.nvim_buf_call(cbuf, function()
    vim.cmd('silent write')
  end)
  check('crlf_saved_bytes_exact', read_file(crlf) == 'one\r\ntwo é 😀 and\r\na half\r\nthree 3', read_file(crlf))
  vim.cmd.edit(file)

  -- The server's code actions work through vim.lsp.buf.code_action(), with no plugin code.
  if client.server_capabilities.codeActionProvider then
    vim.api.nvim_set_current_win(vim.fn.bufwinid(buf))
    vim.lsp.buf.code_action({
      apply = true,
      range = { start = { 1, 0 }, ['end'] = { 2, 0 } },
      filter = function(action)
        return action.title == 'Explain with DALS'
      end,
    })
    local aid = next_task(tasks, 'the code action to start a task')
    wait('the code action task to end', function()
      return final_event(tasks, aid) ~= nil
    end)
    check('code_action_task_succeeded', final_event(tasks, aid).status == 'succeeded', tasks.events(aid))
    local first = '# DALS: Explain the selected code in a comment above it: what it does and why.'
    check('code_action_edited_buffer', (settle(buf, first)), lines(buf))
    check('code_action_edited_file', vim.startswith(read_file(file), first), read_file(file))
  else
    table.insert(result.skipped, 'code actions: the server offers none')
  end

  -- Review mode: the task waits for an approval; approve it with the plugin's function.
  vim.api.nvim_set_current_win(vim.fn.bufwinid(buf))
  vim.cmd('Dals! start Review me')
  local rid = next_task(tasks, 'the review task to start')
  result.review_task_id = rid
  local review_start = last_request('dals.startTask')
  check('review_mode_sent', review_start.arguments[1].mode == 'review', review_start)
  wait('an approval request or the end of the review task', function()
    return tasks.get(rid).pending ~= nil or final_event(tasks, rid) ~= nil
  end)
  if not tasks.get(rid).pending then
    -- The server may not support approvals yet; ask it.
    local answered, err_msg = false, nil
    require('dals.client').exec('dals.answer', { taskId = rid, requestId = 'probe', decision = 'approve' }, {
      on_error = function(err)
        answered, err_msg = true, err.message
      end,
    }, function()
      answered = true
    end)
    wait('dals.answer probe', function() return answered end, 10000)
    if err_msg and err_msg:find('not supported yet', 1, true) then
      table.insert(result.skipped, 'approval: the server answers "' .. err_msg .. '"')
    else
      check('review_task_waited_for_approval', false, { events = tasks.events(rid), answer = err_msg })
    end
    return
  end
  local pending = tasks.get(rid).pending
  result.pending = pending
  check('pending_has_request_id', type(pending.requestId) == 'string', pending)
  check('pending_diff_shown_to_user', type(pending.diff) == 'string' and pending.diff:find('DALS: Review me', 1, true) ~= nil, pending)
  check('file_unchanged_while_waiting', not read_file(file):find('Review me', 1, true)
    and not table.concat(lines(buf), '\n'):find('Review me', 1, true))
  local waiting_in_panel = vim.wait(10000, function()
    return vim.iter(lines(panel.buf)):any(function(l)
      return l:find(rid, 1, true) and l:find('waiting', 1, true)
    end)
  end, 50)
  result.panel_waiting = lines(panel.buf)
  check('panel_shows_waiting', waiting_in_panel, result.panel_waiting)
  check('statusline_shows_waiting', dals.statusline():find('waiting', 1, true) ~= nil, dals.statusline())

  dals.approve(rid)
  wait('the approved task to end', function()
    return final_event(tasks, rid) ~= nil
  end)
  local revs = tasks.events(rid)
  check('approved_task_succeeded', revs[#revs].status == 'succeeded', revs[#revs])
  check('approval_decision_event', vim.iter(revs):any(function(e)
    return e.kind == 'approval' and type(e.detail) == 'table' and e.detail.decision == 'approve'
  end), revs)
  check('approved_edit_in_buffer', (settle(buf, '# DALS: Review me')), lines(buf))
  local text = read_file(file)
  local _, count = text:gsub('DALS: Review me', '')
  check('file_changed_once_after_approval', count == 1, text)
  check('pending_cleared', tasks.get(rid).pending == nil)

  -- Reject from the panel: `x` shows the diff in a split, asks for a comment, answers.
  vim.api.nvim_set_current_win(vim.fn.bufwinid(buf))
  vim.cmd('Dals! start Second review')
  local xid = next_task(tasks, 'the second review task to start')
  wait('the second approval request', function()
    return tasks.get(xid).pending ~= nil or final_event(tasks, xid) ~= nil
  end)
  check('second_review_waits', tasks.get(xid).pending ~= nil, tasks.events(xid))
  local xline
  wait('the panel to list the second task', function()
    for lnum, tid in pairs(panel.line_tasks) do
      if tid == xid then
        xline = lnum
      end
    end
    return xline ~= nil
  end, 10000)
  local prompts = {}
  vim.ui.input = function(opts, on_confirm)
    table.insert(prompts, opts.prompt)
    on_confirm('not now')
  end
  vim.api.nvim_set_current_win(vim.fn.bufwinid(panel.buf))
  vim.api.nvim_win_set_cursor(0, { xline, 0 })
  vim.cmd('normal x')
  wait('the rejected task to end', function()
    return final_event(tasks, xid) ~= nil
  end)
  local approval_buf = panel.bufs['dals://approval/' .. xid]
  check('reject_showed_diff_first', approval_buf ~= nil and vim.iter(lines(approval_buf)):any(function(l)
    return l == '+# DALS: Second review'
  end), approval_buf and lines(approval_buf))
  check('reject_asked_for_comment', #prompts == 1, prompts)
  result.approval_view = approval_buf and lines(approval_buf)
  check('rejection_event_with_comment', vim.iter(tasks.events(xid)):any(function(e)
    return e.kind == 'approval' and type(e.detail) == 'table' and e.detail.decision == 'reject'
      and e.detail.comment == 'not now'
  end), tasks.events(xid))
  check('rejected_edit_not_written', not read_file(file):find('Second review', 1, true)
    and not table.concat(lines(buf), '\n'):find('Second review', 1, true), read_file(file))

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
