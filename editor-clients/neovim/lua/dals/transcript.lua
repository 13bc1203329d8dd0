--- `:Dals transcript {id}`: the task as Markdown (`dals.transcript`, rendered by the server) in a
--- scratch buffer named `dals://transcript/{id}`, fetched again when the task has new events.
local M = {}

local client = require('dals.client')

M.buffers = {} -- task id -> bufnr

local function fill(task_id)
  local bufnr = M.buffers[task_id]
  if not bufnr or not vim.api.nvim_buf_is_valid(bufnr) then
    M.buffers[task_id] = nil
    return
  end
  client.exec('dals.transcript', { taskId = task_id }, { quiet = true }, function(result)
    if not vim.api.nvim_buf_is_valid(bufnr) then
      return
    end
    vim.bo[bufnr].modifiable = true
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, vim.split(result.markdown, '\n', { plain = true }))
    vim.bo[bufnr].modifiable = false
    vim.bo[bufnr].modified = false
  end)
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

-- Live: a new event of a task whose transcript is open fetches it again (debounced per task).
local pending = {}
vim.api.nvim_create_autocmd('User', {
  group = vim.api.nvim_create_augroup('dals_transcript', {}),
  pattern = 'DalsTaskEvent',
  callback = function(args)
    local id = args.data and args.data.taskId
    if not id or not M.buffers[id] or pending[id] then
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
