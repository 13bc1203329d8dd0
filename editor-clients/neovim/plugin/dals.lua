-- DALS (Durable Agent Language Server) for Neovim: the `:Dals` command and the autocmds that
-- feed the statusline and the task panel. The LSP config itself is `lsp/dals.lua`.
if vim.g.loaded_dals then
  return
end
vim.g.loaded_dals = true

vim.api.nvim_create_user_command('Dals', function(opts)
  require('dals.commands').run(opts)
end, {
  nargs = '+',
  range = true,
  bang = true,
  desc = 'DALS: start {prompt} (! = review mode) | tasks | show | resume | cancel | approve {id} | reject {id} [comment]'
    .. ' | followup {id} [prompt] | steer {id} [message] | transcript {id}',
  complete = function(arglead, cmdline)
    return require('dals.commands').complete(arglead, cmdline)
  end,
})

-- :DalsFollowUp / :DalsSteer / :DalsTranscript {id} [text]: the same as `:Dals followup|steer|transcript`.
for name, sub in pairs({ DalsFollowUp = 'followup', DalsSteer = 'steer', DalsTranscript = 'transcript' }) do
  vim.api.nvim_create_user_command(name, function(opts)
    require('dals.commands').run({ fargs = { sub, unpack(opts.fargs) }, args = sub .. ' ' .. opts.args,
      range = 0, bang = false })
  end, {
    nargs = '+',
    desc = 'DALS: ' .. sub .. ' {task id} ' .. (sub == 'transcript' and '' or '[text]'),
    complete = function(arglead, cmdline)
      return require('dals.commands').complete(arglead, 'Dals ' .. sub .. ' ' .. cmdline:gsub('^%S*%s*', '', 1))
    end,
  })
end

local group = vim.api.nvim_create_augroup('dals', {})

vim.api.nvim_create_autocmd('LspProgress', {
  group = group,
  desc = 'DALS: task progress for the statusline',
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data and args.data.client_id or -1)
    if client and client.name == 'dals' then
      require('dals.tasks').on_progress(args.data)
    end
  end,
})

vim.api.nvim_create_autocmd('User', {
  group = group,
  pattern = 'DalsTaskEvent',
  desc = 'DALS: refresh the task panel',
  callback = function(args)
    require('dals.panel').schedule_refresh(args.data)
  end,
})
