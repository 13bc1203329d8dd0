--- The task panel (`:Dals tasks`), a task's event view, and an approval's diff view.
--- All three are scratch buffers in splits; their content comes from the server.
local api = vim.api
local tasks = require('dals.tasks')
local client = require('dals.client')

local M = {
  --- The panel buffer, once opened.
  buf = nil,
  --- The client whose tasks the panel lists.
  client_id = nil,
  --- Panel line number → task id.
  line_tasks = {},
  --- Scratch buffers by name.
  bufs = {},
}

M.HEADER = 'DALS tasks   <CR> events  r resume  c cancel  a approve  x reject  R refresh  q close'

--- Highlight group of each status in the panel and the events view.
M.STATUS_HL = {
  waiting = 'DiagnosticWarn',
  retrying = 'DiagnosticWarn',
  paused = 'DiagnosticError',
  failed = 'DiagnosticError',
  succeeded = 'DiagnosticOk',
  cancelled = 'Comment',
}
--- Statuses a failed model request puts a task in; `r` (`dals.resumeTask`) retries at once.
local FAILING = { retrying = true, paused = true }
local ns = api.nvim_create_namespace('dals.panel')

local function split_lines(text)
  return vim.split(tostring(text), '\n', { plain = true })
end

local function one_line(text)
  return (tostring(text or ''):gsub('%s*\n%s*', ' '))
end

--- The first non-empty line of `text`, at most `max` characters.
local function first_line(text, max)
  local line = vim.iter(split_lines(text)):map(vim.trim):find(function(l)
    return l ~= ''
  end) or ''
  return vim.fn.strchars(line) > max and (vim.fn.strcharpart(line, 0, max - 1) .. '…') or line
end

local function present(v)
  return v ~= nil and v ~= vim.NIL and v ~= ''
end

local function scratch(name, filetype)
  local buf = M.bufs[name]
  if buf and api.nvim_buf_is_valid(buf) then
    return buf
  end
  buf = api.nvim_create_buf(false, true) -- nofile, bufhidden=hide, noswapfile
  api.nvim_buf_set_name(buf, name)
  vim.bo[buf].filetype = filetype
  vim.bo[buf].modifiable = false
  M.bufs[name] = buf
  return buf
end

--- Replace the buffer's text; `hls` are `{line, col_start, col_end, group}` (0-based, end exclusive).
local function set_lines(buf, lines, hls)
  vim.bo[buf].modifiable = true
  api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
  api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  for _, h in ipairs(hls or {}) do
    api.nvim_buf_set_extmark(buf, ns, h[1], h[2], { end_col = h[3], hl_group = h[4] })
  end
end

--- Show `buf` in a split of the current tab (reusing a window that shows it), and focus it.
local function show_in_split(buf, height, where)
  for _, win in ipairs(api.nvim_tabpage_list_wins(0)) do
    if api.nvim_win_get_buf(win) == buf then
      api.nvim_set_current_win(win)
      return win
    end
  end
  -- Split; on a screen too small for another window (E36), use the current one.
  pcall(vim.cmd, ('%s %dsplit'):format(where or 'botright', math.min(height, math.floor(vim.o.lines / 2))))
  local win = api.nvim_get_current_win()
  api.nvim_win_set_buf(win, buf)
  vim.wo[win].number = false
  vim.wo[win].relativenumber = false
  vim.wo[win].wrap = false
  vim.wo[win].winfixheight = true
  return win
end

local function close_window()
  if #api.nvim_tabpage_list_wins(0) > 1 then
    api.nvim_win_close(0, false)
  end
end

--- Keys shared by the panel and the event view; `current()` gives the task they act on.
local function map_task_keys(buf, current)
  local function on(fn)
    return function()
      local id = current()
      if id then
        fn(id)
      end
    end
  end
  local function map(lhs, fn, desc)
    vim.keymap.set('n', lhs, on(fn), { buffer = buf, nowait = true, silent = true, desc = desc })
  end
  map('<CR>', function(id) M.show(id) end, 'DALS: show the task events')
  map('r', function(id) require('dals').resume(id) end, 'DALS: resume the task')
  map('c', function(id) require('dals').cancel(id) end, 'DALS: cancel the task')
  map('a', function(id) M.review(id, 'approve') end, 'DALS: approve the pending request')
  map('x', function(id) M.review(id, 'reject') end, 'DALS: reject the pending request')
  vim.keymap.set('n', 'R', function() M.refresh() end, { buffer = buf, nowait = true, desc = 'DALS: refresh' })
  vim.keymap.set('n', 'q', close_window, { buffer = buf, nowait = true, desc = 'DALS: close' })
end

--- The panel's lines for a list of tasks (newest first), which line shows which task, and the
--- highlights of the status column. A retrying or paused task's line ends with its last failure.
--- @return string[], table<integer, string>, table[]
function M.format(list)
  local lines = { M.HEADER, ('%-10s %5s %4s  %-23s %s'):format('STATUS', 'STEPS', 'REQS', 'TASK', 'TITLE') }
  local line_tasks, hls = {}, {}
  for _, t in ipairs(list) do
    local status = t.status or '?'
    local line = ('%-10s %5d %4d  %-23s %s'):format(status, t.steps or 0,
      (t.usage or {}).requests or 0, t.taskId, one_line(t.title))
    local suffix_at = #line + 2
    if t.pending and status == 'waiting' then
      line = ('%s  [%s]'):format(line, one_line(t.pending.question or ('approve ' .. tostring(t.pending.action))))
    elseif FAILING[status] then
      local why = present(t.lastFailure) and first_line(t.lastFailure, 80) or 'no reason yet'
      line = ('%s  [%s: %s; r resumes]'):format(line, status, why)
    end
    table.insert(lines, line)
    line_tasks[#lines] = t.taskId
    if M.STATUS_HL[status] then
      table.insert(hls, { #lines - 1, 0, #status, M.STATUS_HL[status] })
      if FAILING[status] then
        table.insert(hls, { #lines - 1, suffix_at, #line, M.STATUS_HL[status] })
      end
    end
  end
  if #list == 0 then
    table.insert(lines, '(no tasks yet: :Dals start {prompt})')
  end
  return lines, line_tasks, hls
end

--- Fetch `dals.listTasks` and redraw the panel.
function M.refresh()
  if not (M.buf and api.nvim_buf_is_valid(M.buf)) then
    return
  end
  client.exec('dals.listTasks', {}, { client_id = M.client_id, quiet = true }, function(result, c)
    local list = {}
    for _, summary in ipairs(result.tasks or {}) do
      table.insert(list, tasks.merge_summary(summary, c.id))
    end
    if api.nvim_buf_is_valid(M.buf) then
      local lines, hls
      lines, M.line_tasks, hls = M.format(list)
      set_lines(M.buf, lines, hls)
    end
  end)
end

local refresh_due = false
--- Refresh soon, once for a burst of events.
function M.schedule_refresh(ev)
  if M.buf and api.nvim_buf_is_valid(M.buf) and not refresh_due then
    refresh_due = true
    vim.defer_fn(function()
      refresh_due = false
      M.refresh()
    end, 100)
  end
  local detail = ev and M.bufs['dals://task/' .. ev.taskId]
  if detail and api.nvim_buf_is_valid(detail) then
    M.show(ev.taskId, { focus = false })
  end
end

--- Open (or focus) the panel.
function M.open()
  local c = client.get()
  if not c then
    return vim.notify('DALS: no dals language server is running', vim.log.levels.ERROR)
  end
  M.client_id = c.id
  local fresh = not (M.buf and api.nvim_buf_is_valid(M.buf))
  M.buf = scratch('dals://tasks', 'dals-tasks')
  if fresh then
    map_task_keys(M.buf, function()
      return M.line_tasks[api.nvim_win_get_cursor(0)[1]]
    end)
    set_lines(M.buf, { M.HEADER, '(loading…)' })
  end
  local win = show_in_split(M.buf, 12)
  vim.wo[win].cursorline = true
  M.refresh()
end

--- The events view of a `dals.showTask` result: a summary, then one line per event.
--- @return string[], table[] lines and highlights
function M.detail_lines(s)
  local lines, hls = {}, {}
  local function add(label, value)
    if present(value) then
      local parts = split_lines(value)
      table.insert(lines, ('%-13s %s'):format(label, parts[1]))
      for i = 2, #parts do
        table.insert(lines, (' '):rep(14) .. parts[i])
      end
    end
  end
  local status = s.status or '?'
  local head = ('Task %s  %s'):format(s.taskId, status)
  table.insert(lines, FAILING[status] and (head .. '  (r retries now)') or head)
  if M.STATUS_HL[status] then
    table.insert(hls, { 0, #head - #status, #head, M.STATUS_HL[status] })
  end
  add('Title:', s.title)
  add('Mode:', s.mode and ('%s  (model %s)'):format(s.mode, s.model or '?'))
  add('Workspace:', s.workspace)
  add('Usage:', s.usageLine)
  if type(s.filesChanged) == 'table' and #s.filesChanged > 0 then
    add('Files:', table.concat(s.filesChanged, ', '))
  end
  if type(s.pending) == 'table' then
    add('Pending:', ('%s  (a approve, x reject)'):format(s.pending.question or s.pending.action))
  end
  add('Result:', s.result)
  add('Error:', s.error)
  if present(s.lastFailure) then
    local at = #lines
    add('Last failure:', s.lastFailure)
    table.insert(hls, { at, 0, #'Last failure:', FAILING[status] and M.STATUS_HL[status] or 'DiagnosticWarn' })
  end
  add('Prompt:', s.prompt)
  table.insert(lines, '')
  table.insert(lines, 'Events:')
  for _, ev in ipairs(s.events or {}) do
    local line = ('#%-4d %-8s %-9s %s  %s'):format(ev.seq, ev.kind, ev.status or '', one_line(ev.title),
      tostring(ev.at or ''):sub(12, 19))
    table.insert(lines, line)
    if ev.kind == 'status' and M.STATUS_HL[ev.status] then
      table.insert(hls, { #lines - 1, 15, #line, M.STATUS_HL[ev.status] })
    end
    local d = type(ev.detail) == 'table' and ev.detail or {}
    if type(d.diff) == 'string' then
      for _, l in ipairs(split_lines((d.diff:gsub('\n$', '')))) do
        table.insert(lines, '      ' .. l)
      end
    end
    if d.decision then
      table.insert(lines, ('      %s%s'):format(d.decision, d.comment and (': ' .. one_line(d.comment)) or ''))
    end
  end
  return lines, hls
end

--- The event (`#seq` line) under the cursor, or the one its diff lines belong to.
function M.event_at_cursor(buf)
  local row = api.nvim_win_get_cursor(0)[1]
  for r = row, 1, -1 do
    local seq = (api.nvim_buf_get_lines(buf, r - 1, r, false)[1] or ''):match('^#(%d+)')
    if seq then
      return tonumber(seq)
    end
  end
end

--- In a task's buffer: `u` "Undo Task's Edits", `w` "Rewind to Here", `f` "Fork from Here" (on an
--- event line); undo and rewind show what will be reverted and ask first.
function M.map_checkpoint_keys(buf, task_id)
  local function at_event(fn)
    return function()
      local seq = M.event_at_cursor(buf)
      if not seq then
        return vim.notify('DALS: put the cursor on an event (#seq line)', vim.log.levels.WARN)
      end
      fn(seq)
    end
  end
  local function map(lhs, fn, desc)
    vim.keymap.set('n', lhs, fn, { buffer = buf, nowait = true, silent = true, desc = desc })
  end
  map('u', function() require('dals').undo(task_id, { client_id = M.client_id }) end, "DALS: undo the task's edits")
  map('w', at_event(function(seq) require('dals').rewind(task_id, seq, { client_id = M.client_id }) end),
    'DALS: rewind the task to this event')
  map('f', at_event(function(seq)
    vim.ui.input({ prompt = ('Fork from event %d, prompt: '):format(seq) }, function(prompt)
      if prompt then
        require('dals').fork(task_id, seq, prompt, { client_id = M.client_id })
      end
    end)
  end), 'DALS: fork a new task from this event')
end

--- Show a task's summary and events (`dals.showTask`) in a split.
function M.show(task_id, opts)
  opts = opts or {}
  client.exec('dals.showTask', { taskId = task_id }, { client_id = M.client_id, quiet = opts.focus == false },
    function(summary, c)
      tasks.merge_summary(summary, c.id)
      local name = 'dals://task/' .. task_id
      local fresh = not (M.bufs[name] and api.nvim_buf_is_valid(M.bufs[name]))
      local buf = scratch(name, 'dals-task')
      if fresh then
        map_task_keys(buf, function()
          return task_id
        end)
        M.map_checkpoint_keys(buf, task_id)
      end
      set_lines(buf, M.detail_lines(summary))
      if opts.focus ~= false then
        show_in_split(buf, 20, 'belowright')
      end
    end)
end

--- Show a pending approval (the diff, or the command) in a split.
function M.show_request(task_id, pending)
  local lines = { ('Task %s asks: %s'):format(task_id, one_line(pending.question or 'approve?')) }
  if pending.path then
    table.insert(lines, ('Action: %s %s'):format(pending.action or '', pending.path))
  end
  if pending.command then
    table.insert(lines, '$ ' .. one_line(pending.command))
  end
  table.insert(lines, '')
  vim.list_extend(lines, split_lines(type(pending.diff) == 'string' and pending.diff or ''))
  local buf = scratch('dals://approval/' .. task_id, 'diff')
  vim.keymap.set('n', 'q', close_window, { buffer = buf, nowait = true, desc = 'DALS: close' })
  set_lines(buf, lines)
  show_in_split(buf, 20, 'belowright')
  return buf
end

--- Show the task's pending request, then ask: approve (confirm) or reject (with a comment).
--- @param decision 'approve'|'reject'
function M.review(task_id, decision)
  tasks.fetch(task_id, function(pending)
    if not pending then
      return vim.notify(('DALS: task %s has no pending approval'):format(task_id), vim.log.levels.WARN)
    end
    M.show_request(task_id, pending)
    vim.cmd.redraw()
    local dals = require('dals')
    if decision == 'approve' then
      vim.ui.select({ 'Approve', 'Cancel' }, { prompt = one_line(pending.question or 'Approve?') }, function(choice)
        if choice == 'Approve' then
          dals.answer(task_id, pending.requestId, 'approve')
        end
      end)
    else
      vim.ui.input({ prompt = 'Reject; comment for the agent (optional): ' }, function(comment)
        if comment ~= nil then -- nil: the user cancelled
          dals.answer(task_id, pending.requestId, 'reject', comment ~= '' and comment or nil)
        end
      end)
    end
  end, { client_id = M.client_id })
end

return M
