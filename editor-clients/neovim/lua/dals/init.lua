--- DALS for Neovim: start durable agent tasks from the editor, follow and answer them.
--- A thin client: every action is a `dals.*` command of the `dals lsp` server.
local config = require('dals.config')
local client = require('dals.client')
local tasks = require('dals.tasks')

local M = {}

--- Configure and enable the client.
--- Neovim 0.11: `vim.lsp.config('dals', …)` + `vim.lsp.enable('dals')` (the base config is
--- `lsp/dals.lua`). Neovim 0.10: a FileType autocmd that starts the client for any file with a root.
--- @param opts? dals.Options
function M.setup(opts)
  opts = opts or {}
  config.options = vim.tbl_extend('force', config.options, opts)
  if vim.lsp.config then
    if opts.settings then
      vim.lsp.config('dals', { settings = opts.settings })
    end
    if opts.enable ~= false then
      vim.lsp.enable('dals')
    end
  elseif opts.enable ~= false then
    vim.api.nvim_create_autocmd('FileType', {
      group = vim.api.nvim_create_augroup('dals.enable', {}),
      callback = function(args)
        if vim.bo[args.buf].buftype ~= '' then
          return
        end
        local root = vim.fs.root(args.buf, config.root_markers)
        if root then
          local cfg = config.lsp_config()
          cfg.name, cfg.root_dir, cfg.cmd, cfg.root_markers = 'dals', root, config.resolve_cmd(root), nil
          vim.lsp.start(cfg, { bufnr = args.buf })
        end
      end,
    })
  end
end

--- A range for the lines `line1`..`line2` (1-based) of `bufnr`; the exact columns of a
--- charwise visual selection when `'<`/`'>` are on those lines.
local function selection_range(bufnr, line1, line2, encoding)
  local util = vim.lsp.util
  local s, e = vim.api.nvim_buf_get_mark(bufnr, '<'), vim.api.nvim_buf_get_mark(bufnr, '>')
  if vim.fn.visualmode() == 'v' and s[1] == line1 and e[1] == line2 then
    return util.make_given_range_params(nil, nil, bufnr, encoding).range
  end
  local last = vim.api.nvim_buf_get_lines(bufnr, line2 - 1, line2, false)[1] or ''
  return {
    start = { line = line1 - 1, character = 0 },
    ['end'] = { line = line2 - 1, character = util.character_offset(bufnr, line2 - 1, #last, encoding) },
  }
end

--- Start a task.
--- @param prompt string
--- @param opts? {bufnr?: integer, line1?: integer, line2?: integer, mode?: 'auto'|'review'}
--- @param on_started? fun(task_id: string)
function M.start(prompt, opts, on_started)
  opts = opts or {}
  local bufnr = opts.bufnr or vim.api.nvim_get_current_buf()
  local c = client.get(bufnr)
  local arg = { prompt = prompt }
  local name = vim.api.nvim_buf_get_name(bufnr)
  if vim.bo[bufnr].buftype == '' and name ~= '' then
    arg.uri = vim.uri_from_bufnr(bufnr)
    if opts.line1 and c then
      arg.range = selection_range(bufnr, opts.line1, opts.line2 or opts.line1, c.offset_encoding)
    end
  end
  arg.mode = opts.mode or config.section(c).approval
  client.exec('dals.startTask', arg, { bufnr = bufnr }, function(result, cl)
    local t = tasks.get(result.taskId)
    t.client_id, t.status = cl.id, t.status or 'queued'
    t.title = t.title or vim.split(vim.trim(prompt), '\n')[1]
    vim.notify(('DALS: started %s (%s)'):format(t.title, result.taskId), vim.log.levels.INFO)
    if on_started then
      on_started(result.taskId)
    end
  end)
end

--- Open the task panel.
function M.tasks()
  require('dals.panel').open()
end

--- Show a task's events in a split.
function M.show(task_id)
  require('dals.panel').show(task_id)
end

local function notify_status(verb)
  return function(result)
    vim.notify(('DALS: %s %s: %s'):format(verb, result.taskId, result.status), vim.log.levels.INFO)
  end
end

function M.resume(task_id)
  client.exec('dals.resumeTask', { taskId = task_id }, nil, notify_status('resumed'))
end

function M.cancel(task_id)
  client.exec('dals.cancelTask', { taskId = task_id }, nil, notify_status('cancel requested for'))
end

--- Answer an approval request.
--- @param decision 'approve'|'reject'
--- @param opts? {on_error?: fun(err: table)}
function M.answer(task_id, request_id, decision, comment, opts)
  local arg = { taskId = task_id, requestId = request_id, decision = decision, comment = comment }
  client.exec('dals.answer', arg, opts, function()
    vim.notify(('DALS: %s %s'):format(decision == 'approve' and 'approved' or 'rejected', task_id),
      vim.log.levels.INFO)
  end)
end

--- Answer the task's pending approval (looked up with `dals.showTask`) without asking.
local function decide(task_id, decision, comment, opts)
  tasks.fetch(task_id, function(pending)
    if not pending then
      return vim.notify(('DALS: task %s has no pending approval'):format(task_id), vim.log.levels.WARN)
    end
    M.answer(task_id, pending.requestId, decision, comment, opts)
  end, opts)
end

function M.approve(task_id, opts)
  decide(task_id, 'approve', nil, opts)
end

function M.reject(task_id, comment, opts)
  decide(task_id, 'reject', comment, opts)
end

--- The next turn of a finished task, on its whole conversation (`dals.followUp`).
function M.follow_up(task_id, prompt, opts)
  client.exec('dals.followUp', { taskId = task_id, prompt = prompt }, opts, function(result)
    vim.notify(('DALS: task %s turn %d started'):format(result.taskId, result.turn), vim.log.levels.INFO)
  end)
end

--- A message to a running or waiting task, given to the model with its next request (`dals.steer`).
function M.steer(task_id, message, opts)
  client.exec('dals.steer', { taskId = task_id, message = message }, opts, function(result)
    vim.notify(('DALS: message queued for %s'):format(result.taskId), vim.log.levels.INFO)
  end)
end

--- Ask before reverting: what a dryRun answered (`revert`, `commands`); `go()` when confirmed.
local function confirm_revert(what, preview, go)
  local files = #preview.revert > 0 and table.concat(preview.revert, ', ') or 'no file'
  local msg = ('%s: revert %s?'):format(what, files)
  if preview.commands and #preview.commands > 0 then
    msg = msg .. ('\nNot undone (commands): %s'):format(table.concat(preview.commands, '; '))
  end
  vim.ui.select({ 'Revert', 'Cancel' }, { prompt = msg }, function(choice)
    if choice == 'Revert' then
      go()
    end
  end)
end

local function report(task_id, result)
  local lines = { ('DALS: task %s: reverted %s'):format(task_id,
    #result.reverted > 0 and table.concat(result.reverted, ', ') or 'nothing') }
  for _, s in ipairs(result.skipped or {}) do
    table.insert(lines, ('skipped %s: %s'):format(s.path, s.reason))
  end
  vim.notify(table.concat(lines, '\n'), #(result.skipped or {}) > 0 and vim.log.levels.WARN or vim.log.levels.INFO)
end

--- "Undo Task's Edits" (`dals.undoTask`): shows what will be reverted, then reverts it. `opts.confirm
--- = false` skips the question; `on_done(result)` gets the outcome.
function M.undo(task_id, opts, on_done)
  opts = opts or {}
  client.exec('dals.undoTask', { taskId = task_id, dryRun = true }, opts, function(preview)
    local function go()
      client.exec('dals.undoTask', { taskId = task_id }, opts, function(result)
        report(task_id, result)
        if on_done then on_done(result) end
      end)
    end
    if opts.confirm == false then return go() end
    confirm_revert(('Undo task %s'):format(task_id), preview, go)
  end)
end

--- "Rewind to Here" (`dals.rewindTask`): back to event `seq`, ready for a follow-up.
function M.rewind(task_id, seq, opts, on_done)
  opts = opts or {}
  client.exec('dals.rewindTask', { taskId = task_id, toSeq = seq, dryRun = true }, opts, function(preview)
    local function go()
      client.exec('dals.rewindTask', { taskId = task_id, toSeq = seq }, opts, function(result)
        report(task_id, result)
        if on_done then on_done(result) end
      end)
    end
    if opts.confirm == false then return go() end
    confirm_revert(('Rewind task %s to event %d'):format(task_id, seq), preview, go)
  end)
end

--- "Fork from Here" (`dals.forkTask`): a new task on the conversation up to event `seq`.
function M.fork(task_id, seq, prompt, opts, on_done)
  local arg = { taskId = task_id, atSeq = seq }
  if prompt and vim.trim(prompt) ~= '' then arg.prompt = prompt end
  client.exec('dals.forkTask', arg, opts, function(result)
    vim.notify(('DALS: task %s forked from %s at event %d'):format(result.taskId, task_id, seq), vim.log.levels.INFO)
    if on_done then on_done(result) end
  end)
end

--- The task as Markdown (`dals.transcript`) in a scratch buffer, refreshed as the task's events come.
function M.transcript(task_id)
  require('dals.transcript').open(task_id)
end

--- For 'statusline': the running task's progress and the number of tasks waiting for approval.
function M.statusline()
  return tasks.statusline()
end

return M
