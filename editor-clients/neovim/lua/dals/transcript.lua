--- `:Dals transcript {id}`: the task as Markdown (`dals.transcript`, rendered by the server) in a
--- scratch buffer named `dals://transcript/{id}`, fetched again when the task has new events; the
--- model's text in flight (`dals/taskDelta`, not journaled) shows under it until its event comes.
local M = {}

local client = require('dals.client')

M.buffers = {} -- task id -> bufnr
M.markdown = {} -- task id -> the server's latest transcript
M.live = {} -- task id -> {seq, text}: the model response in flight

local function render(task_id)
  local bufnr = M.buffers[task_id]
  if not bufnr or not vim.api.nvim_buf_is_valid(bufnr) then
    M.buffers[task_id] = nil
    return
  end
  local lines = vim.split(M.markdown[task_id] or '', '\n', { plain = true })
  local live = M.live[task_id]
  if live then
    vim.list_extend(lines, { '', '## Agent (writing…)', '' })
    vim.list_extend(lines, vim.split(live.text, '\n', { plain = true }))
  end
  vim.bo[bufnr].modifiable = true
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].modified = false
end

local function fill(task_id)
  if not M.buffers[task_id] then
    return
  end
  client.exec('dals.transcript', { taskId = task_id }, { quiet = true }, function(result)
    M.markdown[task_id] = result.markdown
    render(task_id)
  end)
end

--- Handler of `dals/taskDelta`: append the piece to the live text of its `seq`.
function M.on_delta(params)
  local id = params and params.taskId
  if not id or not M.buffers[id] or type(params.text) ~= 'string' then
    return
  end
  local live = M.live[id]
  if not live or live.seq ~= params.seq then
    live = { seq = params.seq, text = '' }
    M.live[id] = live
  end
  live.text = live.text .. params.text
  render(id)
end

function M.open(task_id)
  local bufnr = M.buffers[task_id]
  if not bufnr or not vim.api.nvim_buf_is_valid(bufnr) then
    bufnr = vim.api.nvim_create_buf(true, true)
    vim.api.nvim_buf_set_name(bufnr, 'dals://transcript/' .. task_id)
    vim.bo[bufnr].filetype = 'markdown'
    vim.bo[bufnr].bufhidden = 'hide'
    M.buffers[task_id] = bufnr
  end
  vim.cmd('split')
  vim.api.nvim_win_set_buf(0, bufnr)
  fill(task_id)
  return bufnr
end

-- Live: a new event of a task whose transcript is open fetches it again (debounced per task); the
-- event a live text was becoming ends that live text.
local pending = {}
vim.api.nvim_create_autocmd('User', {
  group = vim.api.nvim_create_augroup('dals_transcript', {}),
  pattern = 'DalsTaskEvent',
  callback = function(args)
    local id = args.data and args.data.taskId
    if not id or not M.buffers[id] then
      return
    end
    local live = M.live[id]
    if live and (args.data.seq or 0) >= live.seq then
      M.live[id] = nil
    end
    if pending[id] then
      return
    end
    pending[id] = true
    vim.defer_fn(function()
      pending[id] = nil
      fill(id)
    end, 100)
  end,
})

return M
