--- What this Neovim knows about DALS tasks: events from `dals/taskEvent`, summaries as the server
--- sends them (with each event, and from `dals.listTasks`/`dals.showTask`: the freshest is kept,
--- nothing is counted here), and work-done progress for the statusline.
--- The server owns the truth; this is a cache that the panel and the statusline read.
local M = {}

--- @class dals.Task
--- @field taskId string
--- @field title? string
--- @field status? string
--- @field steps? integer
--- @field usage? table
--- @field usageLine? string the usage in words, worded by the server
--- @field pending? table the approval waiting for an answer: `{requestId, action, path?, diff?, command?, question}`
--- @field lastFailure? string why the last model request failed, while `retrying` or `paused`
--- @field events table<integer, table> by seq
--- @field last_seq integer highest contiguous seq seen
--- @field summary_seq? integer the `lastSeq` of the summary kept
--- @field summary_keys? string[] the fields that came from that summary
--- @field client_id? integer

--- @type table<string, dals.Task>
M.tasks = {}
--- Task ids, oldest first.
M.order = {}
--- Running work-done progress of dals tasks, by token: `{title, message}`.
M.progress = {}

local FINAL = { succeeded = true, failed = true, cancelled = true }
M.FINAL = FINAL

--- @return dals.Task
function M.get(task_id)
  local t = M.tasks[task_id]
  if not t then
    t = { taskId = task_id, events = {}, last_seq = 0 }
    M.tasks[task_id] = t
    table.insert(M.order, task_id)
  end
  return t
end

--- Events of a task in seq order.
function M.events(task_id)
  local t = M.tasks[task_id]
  local out = {}
  if not t then
    return out
  end
  local seqs = vim.tbl_keys(t.events)
  table.sort(seqs)
  for _, s in ipairs(seqs) do
    table.insert(out, t.events[s])
  end
  return out
end

local function advance(t)
  while t.events[t.last_seq + 1] do
    t.last_seq = t.last_seq + 1
  end
end

local function fire(pattern, data)
  vim.api.nvim_exec_autocmds('User', { pattern = pattern, modeline = false, data = data })
end

--- Keep `summary`, a TaskSummary as the server sent it, unless the one kept has got further
--- (its `lastSeq`): its fields become the task's (`status`, `steps`, `usageLine`, `pending`, ...).
local function take(t, summary)
  local seq = type(summary.lastSeq) == 'number' and summary.lastSeq or 0
  if seq < (t.summary_seq or 0) then
    return
  end
  t.summary_seq = seq
  -- Replace the summary whole: a field it lacks (a null, which the LSP client decodes to an
  -- absent key) is cleared, not kept from the one before.
  for _, key in ipairs(t.summary_keys or {}) do
    t[key] = nil
  end
  t.summary_keys = {}
  for key, value in pairs(summary) do
    if key ~= 'events' and value ~= vim.NIL then
      t[key] = value
      table.insert(t.summary_keys, key)
    end
  end
end

--- Merge a TaskSummary (from listTasks or showTask) into the cache.
function M.merge_summary(summary, client_id)
  local t = M.get(summary.taskId)
  take(t, summary)
  t.client_id = client_id or t.client_id
  for _, ev in ipairs(summary.events or {}) do
    t.events[ev.seq] = ev
  end
  advance(t)
  return t
end

--- The current pending approval of a task, from the server (`dals.showTask`).
--- @param on_pending fun(pending: table?, summary: table)
function M.fetch(task_id, on_pending, opts)
  require('dals.client').exec('dals.showTask', { taskId = task_id }, opts, function(summary, client)
    local t = M.merge_summary(summary, client.id)
    on_pending(t.pending, summary)
  end)
end

local function reload_buffer(client_id, path)
  local client = vim.lsp.get_client_by_id(client_id)
  if not (client and client.root_dir and path) then
    return
  end
  local full = vim.fs.normalize(vim.fs.joinpath(client.root_dir, path))
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.fs.normalize(vim.api.nvim_buf_get_name(buf)) == full
      and not vim.bo[buf].modified then
      -- The task wrote the file on disk; with 'autoread' this reloads the buffer. A modified
      -- buffer is left alone (edits to open files may arrive as workspace/applyEdit instead).
      vim.cmd.checktime(buf)
    end
  end
end

--- Handler for the `dals/taskEvent` notification.
function M.on_event(err, ev, ctx)
  if err or type(ev) ~= 'table' or type(ev.taskId) ~= 'string' or type(ev.seq) ~= 'number' then
    return
  end
  local t = M.get(ev.taskId)
  t.client_id = ctx.client_id
  if t.events[ev.seq] then
    -- already seen (from dals.showTask): nothing to keep, but what waits on the event (the
    -- transcript's live text, which this event ends) still hears it
    fire('DalsTaskEvent', ev)
    return
  end
  local gap = ev.seq > t.last_seq + 1
  if type(ev.summary) == 'table' then
    take(t, ev.summary) -- the summary the server sends with each event: nothing is counted here
  end
  ev.summary = nil
  t.events[ev.seq] = ev
  advance(t)
  local detail = type(ev.detail) == 'table' and ev.detail or {}
  if ev.kind == 'approval' and ev.status == 'waiting' and not detail.decision then
    vim.notify(('DALS: %s  (:Dals tasks, then a to approve or x to reject)'):format(
      detail.question or 'approval needed'), vim.log.levels.WARN)
  elseif ev.kind == 'edit' and detail.path then
    vim.schedule(function()
      reload_buffer(ctx.client_id, detail.path)
    end)
  end
  if gap then
    -- Missed events (e.g. a restarted server): fill the history from the server.
    M.fetch(ev.taskId, function() end, { client_id = ctx.client_id, quiet = true })
  end
  fire('DalsTaskEvent', ev)
end

--- Handler for `window/showMessage`: DALS announces a task's end (and bad settings) this way;
--- route it through vim.notify so notification UIs show it.
function M.on_show_message(_, params)
  local levels = { vim.log.levels.ERROR, vim.log.levels.WARN, vim.log.levels.INFO, vim.log.levels.DEBUG }
  vim.notify(params.message, levels[params.type] or vim.log.levels.INFO, { title = 'DALS' })
end

M.handlers = {
  ['dals/taskEvent'] = function(...)
    return require('dals.tasks').on_event(...)
  end,
  ['window/showMessage'] = function(...)
    return require('dals.tasks').on_show_message(...)
  end,
  ['dals/diagnostics'] = function(_, params)
    return require('dals.diagnostics').answer(params)
  end,
  ['dals/taskDelta'] = function(_, params)
    return require('dals.transcript').on_delta(params)
  end,
}

--- `LspProgress` autocmd callback: keep the running tasks' progress for the statusline.
function M.on_progress(data)
  local params = data and data.params or {}
  local token, value = params.token, params.value
  if type(token) ~= 'string' or token:sub(1, 10) ~= 'dals-task-' or type(value) ~= 'table' then
    return
  end
  if value.kind == 'end' then
    M.progress[token] = nil
  else
    local p = M.progress[token] or {}
    p.title = value.title or p.title
    p.message = value.message or p.message
    M.progress[token] = p
  end
  vim.cmd.redrawstatus()
end

--- A short status for the statusline: the running task's progress, or how many run, how many
--- wait for an approval, and how many are retrying or paused after failed model requests.
--- Empty when DALS has nothing to say.
function M.statusline()
  local running = {}
  for _, p in pairs(M.progress) do
    table.insert(running, p)
  end
  local count = { waiting = 0, retrying = 0, paused = 0 }
  for _, t in pairs(M.tasks) do
    if count[t.status] then
      count[t.status] = count[t.status] + 1
    end
  end
  local parts = {}
  if #running == 1 then
    local p = running[1]
    table.insert(parts, vim.trim(('%s %s'):format(p.title or 'DALS', p.message or '')))
  elseif #running > 1 then
    table.insert(parts, ('DALS: %d tasks running'):format(#running))
  end
  if count.waiting > 0 then
    table.insert(parts, ('DALS: %d waiting for approval'):format(count.waiting))
  end
  for _, status in ipairs({ 'retrying', 'paused' }) do
    if count[status] > 0 then
      table.insert(parts, ('DALS: %d %s'):format(count[status], status))
    end
  end
  return table.concat(parts, ' | ')
end

return M
