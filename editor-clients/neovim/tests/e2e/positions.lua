-- Positions and line breaks through the editor (UTF-8, CRLF), and the server's code actions.
-- A scene of tests/client_test.lua, run in order after the ones before it.
return function(c)
  local h = require('e2e.harness')
  local result, check, wait, lines, read_file = h.result, h.check, h.wait, h.lines, h.read_file
  local next_task, settle, final_event, last_request = h.next_task, h.settle, h.final_event, h.last_request
  local dals, tasks, panel, client, buf, file, workspace = c.dals, c.tasks, c.panel, c.client, c.buf, c.file, c.workspace

  -- Positions and line breaks (issue 17): Neovim negotiates UTF-8; edits after non-ASCII text on
  -- the same line, and in a CRLF file without a final newline, leave the buffer exactly right.
  check('utf8_negotiated', client.offset_encoding == 'utf-8', client.offset_encoding)
  local function run_plan(bufnr, steps)
    local plan = { 'Edit through the editor' }
    for _, step in ipairs(steps) do
      table.insert(plan, '/' .. step[1] .. ' ' .. vim.json.encode(step[2]))
    end
    dals.start(table.concat(plan, '\n'), { bufnr = bufnr })
    local pid = next_task(tasks, 'the plan task to start')
    wait('the plan task to end', function()
      return final_event(tasks, pid) ~= nil
    end)
    return pid
  end
  --- Wait until the server lists `rel` as open in the state dir's editor registry: a task started
  --- before that edits the file on disk, not in the buffer.
  local function wait_published(rel)
    local dir = vim.fs.joinpath(assert(os.getenv('DALS_STATE_DIR')), 'editors')
    wait(rel .. ' published as open', function()
      for _, f in ipairs(vim.fn.glob(dir .. '/*.json', true, true)) do
        if table.concat(vim.fn.readfile(f), '\n'):find('"' .. rel .. '"', 1, true) then
          return true
        end
      end
      return false
    end, 30000)
  end
  local function write_bytes(path, data)
    local f = assert(io.open(path, 'wb'))
    f:write(data)
    f:close()
  end
  local uni = vim.fs.joinpath(workspace, 'uni.py')
  local uni_text = 's = "héllo wörld 😀 café"\nt = 1\n'
  write_bytes(uni, uni_text)
  vim.cmd.edit(uni)
  local ubuf = vim.api.nvim_get_current_buf()
  wait('dals to attach to uni.py', function()
    return vim.lsp.get_clients({ name = 'dals', bufnr = ubuf })[1] ~= nil
  end, 30000)
  wait_published('uni.py')
  local uid = run_plan(ubuf, {
    { 'read_file', { path = 'uni.py' } },
    { 'edit_file', { path = 'uni.py', old = 'wörld', new = 'world' } },
    { 'edit_file', { path = 'uni.py', old = 'café', new = 'coffee ☕' } },
  })
  check('unicode_task_succeeded', final_event(tasks, uid).status == 'succeeded', tasks.events(uid))
  local uni_want = { 's = "héllo world 😀 coffee ☕"', 't = 1' }
  local uni_ok = vim.wait(15000, function()
    return vim.deep_equal(lines(ubuf), uni_want)
  end, 50)
  result.unicode_buffer = lines(ubuf)
  check('unicode_buffer_exact', uni_ok and vim.bo[ubuf].modified, lines(ubuf))
  check('unicode_edit_via_editor', read_file(uni) == uni_text, read_file(uni))

  local crlf = vim.fs.joinpath(workspace, 'crlf.txt')
  write_bytes(crlf, 'one\r\ntwo é 😀\r\nthree')
  vim.cmd.edit(crlf)
  local cbuf = vim.api.nvim_get_current_buf()
  vim.bo[cbuf].fixeol = false -- so that :write shows the buffer's own final-newline state
  check('crlf_detected', vim.bo[cbuf].fileformat == 'dos' and not vim.bo[cbuf].eol,
    { vim.bo[cbuf].fileformat, vim.bo[cbuf].eol })
  wait('dals to attach to crlf.txt', function()
    return vim.lsp.get_clients({ name = 'dals', bufnr = cbuf })[1] ~= nil
  end, 30000)
  wait_published('crlf.txt')
  local xid2 = run_plan(cbuf, {
    { 'read_file', { path = 'crlf.txt' } },
    { 'edit_file', { path = 'crlf.txt', old = '😀', new = '😀 and\na half' } },
    { 'edit_file', { path = 'crlf.txt', old = 'three', new = 'three 3' } },
  })
  check('crlf_task_succeeded', final_event(tasks, xid2).status == 'succeeded', tasks.events(xid2))
  local crlf_want = { 'one', 'two é 😀 and', 'a half', 'three 3' }
  local crlf_ok = vim.wait(15000, function()
    return vim.deep_equal(lines(cbuf), crlf_want)
  end, 50)
  result.crlf_buffer = lines(cbuf)
  check('crlf_buffer_exact', crlf_ok, lines(cbuf))
  check('crlf_kept_dos_noeol', vim.bo[cbuf].fileformat == 'dos' and not vim.bo[cbuf].eol,
    { vim.bo[cbuf].fileformat, vim.bo[cbuf].eol })
  vim.api.nvim_buf_call(cbuf, function()
    vim.cmd('silent write')
  end)
  check('crlf_saved_bytes_exact', read_file(crlf) == 'one\r\ntwo é 😀 and\r\na half\r\nthree 3', read_file(crlf))
  vim.cmd.edit(file)

  -- The server's code actions work through vim.lsp.buf.code_action(), with no plugin code.
  if client.server_capabilities.codeActionProvider then
    vim.api.nvim_set_current_win(vim.fn.bufwinid(buf))
    vim.lsp.buf.code_action({
      apply = true,
      range = { start = { 1, 0 }, ['end'] = { 2, 0 } },
      filter = function(action)
        return action.title == 'Explain with DALS'
      end,
    })
    local aid = next_task(tasks, 'the code action to start a task')
    wait('the code action task to end', function()
      return final_event(tasks, aid) ~= nil
    end)
    check('code_action_task_succeeded', final_event(tasks, aid).status == 'succeeded', tasks.events(aid))
    local first = '# DALS: Explain the selected code in a comment above it: what it does and why.'
    check('code_action_edited_buffer', (settle(buf, first)), lines(buf))
    check('code_action_edited_file', vim.startswith(read_file(file), first), read_file(file))
  else
    table.insert(result.skipped, 'code actions: the server offers none')
  end
end
