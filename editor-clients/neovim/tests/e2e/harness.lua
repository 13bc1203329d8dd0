-- The end-to-end test's harness (tests/client_test.lua): the result it writes, checks, waits, and
-- what the scenes share (the plugin's modules, the client, the file being edited).
local M = {}

M.TIMEOUT = tonumber(os.getenv('DALS_TEST_TIMEOUT_MS') or '') or 90000
M.result = { checks = {}, failures = {}, skipped = {}, notifications = {}, statusline = {}, requests = {}, timings = {} }
local result, TIMEOUT = M.result, M.TIMEOUT

function M.check(name, ok, info)
  result.checks[name] = ok and true or false
  if not ok then
    table.insert(result.failures, name .. (info and (': ' .. vim.inspect(info)) or ''))
  end
  return ok
end

function M.wait(what, cond, timeout)
  local t0 = vim.uv.hrtime()
  local ok = vim.wait(timeout or TIMEOUT, cond, 50)
  table.insert(result.timings, { what, math.floor((vim.uv.hrtime() - t0) / 1e6) })
  if not ok then
    error('timed out waiting for ' .. what, 2)
  end
end

function M.lines(buf)
  return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end

function M.read_file(path)
  local f = assert(io.open(path))
  local text = f:read('*a')
  f:close()
  return text
end

--- The id of the next task the plugin learns about (tasks.order grows by one).
local seen_tasks = 0
function M.next_task(tasks, what, timeout)
  M.wait(what, function()
    return #tasks.order > seen_tasks
  end, timeout)
  seen_tasks = seen_tasks + 1
  return tasks.order[seen_tasks]
end

--- Wait until the buffer's first line is `first`. A task's edit reaches the buffer either through
--- workspace/applyEdit (the buffer is then modified: save it, as a user would) or on disk (the
--- plugin's :checktime reloads the buffer). Returns whether it arrived, and how.
function M.settle(buf, first)
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

function M.final_event(tasks, id)
  local evs = tasks.events(id)
  local last = evs[#evs]
  return last and tasks.FINAL[last.status] and last or nil
end


--- The latest `workspace/executeCommand` of `command` the plugin sent.
function M.last_request(command)
  for i = #result.requests, 1, -1 do
    if result.requests[i].command == command then
      return result.requests[i]
    end
  end
  return {}
end

return M
