-- The first task: started on a selection, followed live in the panel and the events view,
-- followed up, and its transcript with the live text.
-- A scene of tests/client_test.lua, run in order after the ones before it.
return function(c)
  local h = require('e2e.harness')
  local result, check, wait, lines, read_file = h.result, h.check, h.wait, h.lines, h.read_file
  local next_task, settle, final_event, last_request = h.next_task, h.settle, h.final_event, h.last_request
  local dals, tasks, panel, client, buf, file, workspace = c.dals, c.tasks, c.panel, c.client, c.buf, c.file, c.workspace

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

  -- Follow up the finished task (:DalsFollowUp), then read its transcript (:DalsTranscript).
  local turn1_last = evs[#evs].seq
  local transcript = require('dals.transcript')
  local deltas, on_delta = {}, transcript.on_delta
  transcript.on_delta = function(params)
    table.insert(deltas, params)
    return on_delta(params)
  end
  vim.cmd('DalsTranscript ' .. id)
  vim.cmd('DalsFollowUp ' .. id .. ' What is in here?')
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
  check('live_text_gone_after_event', transcript.live[id] == nil
    and not vim.iter(lines(tbuf)):any(function(l) return l:find('writing', 1, true) end), lines(tbuf))
  vim.api.nvim_set_current_buf(buf)
end
