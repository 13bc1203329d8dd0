-- Review mode: approve with the plugin's function, reject from the panel with a comment.
-- A scene of tests/client_test.lua, run in order after the ones before it.
return function(c)
  local h = require('e2e.harness')
  local result, check, wait, lines, read_file = h.result, h.check, h.wait, h.lines, h.read_file
  local next_task, settle, final_event, last_request = h.next_task, h.settle, h.final_event, h.last_request
  local dals, tasks, panel, client, buf, file, workspace = c.dals, c.tasks, c.panel, c.client, c.buf, c.file, c.workspace

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
  check('pending_has_proposed_text', type(pending.proposed) == 'string'
    and vim.startswith(pending.proposed, '# DALS: Review me'), pending)
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
