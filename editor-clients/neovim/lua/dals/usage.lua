--- Text for a task's ledger (TaskSummary.usage): tokens, the estimated cost, and what replays
--- from the journal saved. The server computes the numbers; this only words them.
local M = {}

--- `1,234,567`
function M.count(n)
  local s = ('%d'):format(math.floor(tonumber(n) or 0))
  local sign, digits = s:match('^(-?)(%d+)$')
  return sign .. digits:reverse():gsub('(%d%d%d)', '%1,'):reverse():gsub('^,', '')
end

--- `$0.0042` below a dollar, `$12.35` from a dollar up, `$0` for a free model.
function M.usd(amount)
  if amount == 0 then
    return '$0'
  elseif amount < 0.0001 then
    return '<$0.0001'
  end
  return ('$%.' .. (amount < 1 and 4 or 2) .. 'f'):format(amount)
end

local function number(v)
  return type(v) == 'number' and v or nil
end

--- `1 request`, `3 requests`
local function counted(n, noun)
  n = number(n) or 0
  return ('%s %s%s'):format(M.count(n), noun, n == 1 and '' or 's')
end

--- `cost ~$0.0312`, `cost $0`, `cost unknown` (the server has no price for the model), or nil
--- when the server does not say (an older server) or there is nothing to price yet.
function M.cost(usage)
  local cost = usage.costUsd
  if cost == nil or (not number(cost) and (number(usage.requests) or 0) == 0) then
    return nil
  elseif number(cost) then
    return 'cost ' .. (cost == 0 and M.usd(0) or '~' .. M.usd(cost))
  end
  return 'cost unknown'
end

--- `2 replayed, 9,120 tokens saved ~$0.0190`, or `0 replayed`.
function M.replays(usage)
  local replayed = number(usage.replayedRequests) or 0
  if replayed == 0 then
    return '0 replayed'
  end
  local saved = (number(usage.replayedInputTokens) or 0) + (number(usage.replayedOutputTokens) or 0)
  local usd = number(usage.savedUsd)
  return ('%s replayed, %s tokens saved%s'):format(M.count(replayed), M.count(saved),
    (usd and usd > 0) and (' ~' .. M.usd(usd)) or '')
end

--- The Usage line of the events view:
--- `7 steps, 4 requests (2 replayed, 9,120 tokens saved ~$0.0190), 12,345/678 tokens, cost ~$0.0312`
function M.line(summary)
  local usage = type(summary.usage) == 'table' and summary.usage or {}
  local line = ('%s, %s (%s), %s/%s tokens'):format(counted(summary.steps, 'step'),
    counted(usage.requests, 'request'), M.replays(usage), M.count(usage.inputTokens), M.count(usage.outputTokens))
  local cost = M.cost(usage)
  return cost and (line .. ', ' .. cost) or line
end

return M
