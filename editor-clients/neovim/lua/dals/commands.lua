--- The `:Dals {subcommand}` user command.
local M = {}

local function dals()
  return require('dals')
end

local function need_id(fn)
  return function(args)
    if not args[1] then
      return vim.notify('DALS: give a task id (Tab completes)', vim.log.levels.ERROR)
    end
    fn(args)
  end
end

--- Subcommand → function(args: string[], cmd_opts: table, rest: string)
M.subcommands = {
  start = function(_, opts, rest)
    local function go(prompt)
      if prompt and vim.trim(prompt) ~= '' then
        dals().start(prompt, {
          line1 = opts.range > 0 and opts.line1 or nil,
          line2 = opts.range > 0 and opts.line2 or nil,
          mode = opts.bang and 'review' or nil,
        })
      end
    end
    if vim.trim(rest) == '' then
      vim.ui.input({ prompt = 'DALS task: ' }, go)
    else
      go(rest)
    end
  end,
  tasks = function()
    dals().tasks()
  end,
  show = need_id(function(args)
    dals().show(args[1])
  end),
  resume = need_id(function(args)
    dals().resume(args[1])
  end),
  cancel = need_id(function(args)
    dals().cancel(args[1])
  end),
  approve = need_id(function(args)
    dals().approve(args[1])
  end),
  followup = need_id(function(args)
    local text = table.concat(vim.list_slice(args, 2), ' ')
    local function go(prompt)
      if prompt and vim.trim(prompt) ~= '' then
        dals().follow_up(args[1], prompt)
      end
    end
    if vim.trim(text) == '' then
      vim.ui.input({ prompt = 'DALS follow-up: ' }, go)
    else
      go(text)
    end
  end),
  steer = need_id(function(args)
    local text = table.concat(vim.list_slice(args, 2), ' ')
    local function go(message)
      if message and vim.trim(message) ~= '' then
        dals().steer(args[1], message)
      end
    end
    if vim.trim(text) == '' then
      vim.ui.input({ prompt = 'DALS steer: ' }, go)
    else
      go(text)
    end
  end),
  transcript = need_id(function(args)
    dals().transcript(args[1])
  end),
  undo = need_id(function(args)
    dals().undo(args[1])
  end),
  rewind = need_id(function(args)
    local seq = tonumber(args[2] or '')
    if not seq then return vim.notify('DALS: :Dals rewind {task id} {event seq}', vim.log.levels.ERROR) end
    dals().rewind(args[1], seq)
  end),
  fork = need_id(function(args)
    local seq = tonumber(args[2] or '')
    if not seq then return vim.notify('DALS: :Dals fork {task id} {event seq} [prompt]', vim.log.levels.ERROR) end
    dals().fork(args[1], seq, table.concat(vim.list_slice(args, 3), ' '))
  end),
  reject = need_id(function(args)
    local comment = table.concat(vim.list_slice(args, 2), ' ')
    dals().reject(args[1], comment ~= '' and comment or nil)
  end),
}

function M.run(opts)
  local sub = opts.fargs[1]
  local fn = M.subcommands[sub]
  if not fn then
    local names = vim.tbl_keys(M.subcommands)
    table.sort(names)
    return vim.notify(('DALS: unknown subcommand %q; one of: %s'):format(sub or '', table.concat(names, ', ')),
      vim.log.levels.ERROR)
  end
  local rest = opts.args:match('^%s*%S+%s*(.-)%s*$') or ''
  fn(vim.list_slice(opts.fargs, 2), opts, rest)
end

function M.complete(arglead, cmdline)
  local words = vim.split(cmdline:gsub('^%S*%s*', '', 1), '%s+', { trimempty = false })
  local candidates
  if #words <= 1 then
    candidates = vim.tbl_keys(M.subcommands)
    table.sort(candidates)
  elseif #words == 2 and words[1] ~= 'start' then
    local tasks = require('dals.tasks')
    candidates = vim.fn.reverse(vim.deepcopy(tasks.order))
    if words[1] == 'resume' then
      -- Newest first, the tasks that can be resumed (retrying or paused) before the others.
      local function rank(id)
        local status = (tasks.tasks[id] or {}).status
        return (status == 'retrying' or status == 'paused') and 0 or 1
      end
      local pos = {}
      for i, id in ipairs(candidates) do
        pos[id] = i
      end
      table.sort(candidates, function(a, b)
        return rank(a) < rank(b) or (rank(a) == rank(b) and pos[a] < pos[b])
      end)
    end
  else
    return {}
  end
  return vim.tbl_filter(function(c)
    return vim.startswith(c, arglead)
  end, candidates)
end

return M
