--- Answers the server's `dals/diagnostics` request (the agent's `diagnostics` tool) from
--- `vim.diagnostic`: what this Neovim shows for a file, or for every buffer that has diagnostics.
local M = {}

--- The capability the client advertises, so that the server asks.
M.capabilities = { experimental = { dals = { diagnostics = true } } }

local function to_lsp(d)
  return {
    range = {
      start = { line = d.lnum, character = d.col },
      ['end'] = { line = d.end_lnum or d.lnum, character = d.end_col or d.col },
    },
    severity = d.severity,
    message = d.message,
    source = d.source,
    code = d.code,
  }
end

--- `{uri: string|nil}` -> `{items: [{uri, diagnostics: [LSP Diagnostic]}]}`
--- @param params table?
--- @return table
function M.answer(params)
  local uri = params and type(params.uri) == 'string' and params.uri or nil
  local by_buf, order = {}, {}
  local wanted = nil
  if uri then
    wanted = vim.fn.bufnr(vim.uri_to_fname(uri))
    if wanted == -1 then
      return { items = { { uri = uri, diagnostics = {} } } }
    end
  end
  for _, d in ipairs(vim.diagnostic.get(wanted)) do
    if not by_buf[d.bufnr] then
      by_buf[d.bufnr] = {}
      table.insert(order, d.bufnr)
    end
    table.insert(by_buf[d.bufnr], to_lsp(d))
  end
  local items = {}
  for _, bufnr in ipairs(order) do
    table.insert(items, { uri = vim.uri_from_bufnr(bufnr), diagnostics = by_buf[bufnr] })
  end
  if uri and #items == 0 then
    items = { { uri = uri, diagnostics = {} } }
  end
  return { items = items }
end

return M
