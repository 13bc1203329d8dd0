-- Cancel a running task; undo a finished one (it asks first).
-- A scene of tests/client_test.lua, run in order after the ones before it.
return function(c)
  local h = require('e2e.harness')
  local result, check, wait, lines, read_file = h.result, h.check, h.wait, h.lines, h.read_file
  local next_task, settle, final_event, last_request = h.next_task, h.settle, h.final_event, h.last_request
  local dals, tasks, panel, client, buf, file, workspace = c.dals, c.tasks, c.panel, c.client, c.buf, c.file, c.workspace

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
end
