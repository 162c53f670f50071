--[[
  Admit one call against its tenant's budgets: hold its worst-case cost if the tenant's spend plus
  every live hold plus this one fits under each budget (UTC day and month), else refuse. A hold of
  the same id is replaced, not added to (a Message Batches job held again after a crash). Holds of
  workers that died expire; a hold is settled to the real cost by budget-settle-3.lua. All amounts
  are whole nano-USD.

  Input:
    KEYS[1] the tenant's hash (fields daily_nusd, monthly_nusd; absent = no budget)
    KEYS[2] the tenant's spend of the day
    KEYS[3] the tenant's spend of the month
    KEYS[4] the tenant's holds (hash: reservation id → "cost day month expires_at")

    ARGV[1] now (ms)
    ARGV[2] reservation id
    ARGV[3] worst-case cost of the call; -1 when it has no price (refused under a budget, held as 0
            without one)
    ARGV[4] the day (YYYY-MM-DD)
    ARGV[5] the month (YYYY-MM)
    ARGV[6] the hold expires at (ms)
    ARGV[7] how long the holds hash may outlive its newest hold (ms)

  Output:
    {'unknown'} when no such tenant (nothing held);
    {'held', '', spent_day, held_day, spent_month, held_month} when admitted;
    {'over', 'day' | 'month', spent, held, budget, on_exceed} when refused (nothing held);
    {'unpriced', 'day' | 'month', spent, held, budget, on_exceed} when the call has no price and the
    tenant a budget (nothing held)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return { 'unknown' } end
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[3])
local daily = tonumber(redis.call('HGET', KEYS[1], 'daily_nusd') or '')
local monthly = tonumber(redis.call('HGET', KEYS[1], 'monthly_nusd') or '')
local on_exceed = redis.call('HGET', KEYS[1], 'on_exceed') or 'wait'

local held_day, held_month = 0, 0
local unpriced = cost < 0
if unpriced then cost = 0 end
local holds = redis.call('HGETALL', KEYS[4])
for i = 1, #holds, 2 do
  local c, d, m, expires = string.match(holds[i + 1], '^(%d+) (%S+) (%S+) (%d+)$')
  if c == nil or tonumber(expires) <= now then
    redis.call('HDEL', KEYS[4], holds[i])
  elseif holds[i] ~= ARGV[2] then
    if d == ARGV[4] then held_day = held_day + tonumber(c) end
    if m == ARGV[5] then held_month = held_month + tonumber(c) end
  end
end

local spent_day = tonumber(redis.call('GET', KEYS[2]) or '0')
local spent_month = tonumber(redis.call('GET', KEYS[3]) or '0')
if unpriced and daily ~= nil then
  return { 'unpriced', 'day', spent_day, held_day, daily, on_exceed }
end
if unpriced and monthly ~= nil then
  return { 'unpriced', 'month', spent_month, held_month, monthly, on_exceed }
end
if daily ~= nil and spent_day + held_day + cost > daily then
  return { 'over', 'day', spent_day, held_day, daily, on_exceed }
end
if monthly ~= nil and spent_month + held_month + cost > monthly then
  return { 'over', 'month', spent_month, held_month, monthly, on_exceed }
end
redis.call('HSET', KEYS[4], ARGV[2], (unpriced and '0' or ARGV[3]) .. ' ' .. ARGV[4] .. ' ' .. ARGV[5] .. ' ' .. ARGV[6])
redis.call('PEXPIRE', KEYS[4], ARGV[7])
return { 'held', '', spent_day, held_day + cost, spent_month, held_month + cost }
