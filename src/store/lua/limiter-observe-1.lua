--[[
  Learn from a response's rate-limit headers.

  Input:
    KEYS[1] the group's hash

    ARGV[1]  now (ms)
    ARGV[2]  limit: requests       (-1 = not sent)
    ARGV[3]  limit: input tokens   (-1 = not sent)
    ARGV[4]  limit: output tokens  (-1 = not sent)
    ARGV[5]  remaining: requests      (-1 = not sent)
    ARGV[6]  remaining: input tokens  (-1 = not sent)
    ARGV[7]  remaining: output tokens (-1 = not sent)
    ARGV[8]  ceiling: requests       (0 = none)
    ARGV[9]  ceiling: input tokens   (0 = none)
    ARGV[10] ceiling: output tokens  (0 = none)
    ARGV[11] target utilisation (0..1]
    ARGV[12] default burst (ms)

  Output:
    "req,in,out": the limits known before ('' where none), to log discoveries and changes
]]
local h = KEYS[1]
local now = tonumber(ARGV[1])
local names = { 'req', 'in', 'out' }
-- Every field read in one HMGET and written in one HSET: a script's commands count against Redis
-- like a client's.
local st = redis.call('HMGET', h, 'factor', 'burst_ms', 'ts', 'learned', 'probe_until', 'headerless',
  'req_limit', 'in_limit', 'out_limit', 'req_level', 'in_level', 'out_level')
local before = {}
local any = false
local factor = tonumber(st[1]) or 1
local burst = tonumber(st[2]) or tonumber(ARGV[12])
local ts = tonumber(st[3]) or now
local target = tonumber(ARGV[11])
local old_limits = { tonumber(st[7]), tonumber(st[8]), tonumber(st[9]) }
local old_levels = { tonumber(st[10]), tonumber(st[11]), tonumber(st[12]) }
local sent = false
for i = 1, 3 do if tonumber(ARGV[1 + i]) >= 0 then sent = true end end
if sent and st[4] == '1' then
  -- Headers after all: the announced limits replace the learned one.
  redis.call('HDEL', h, 'req_limit', 'req_level', 'learned', 'slow_start', 'ok_since', 'ok_count', 'learn_hold_until')
  old_limits[1] = nil
  old_levels[1] = nil
end
local set = {}
for i = 1, 3 do
  local old = old_limits[i]
  before[i] = old and tostring(old) or ''
  local limit = tonumber(ARGV[1 + i])
  local remaining = tonumber(ARGV[4 + i])
  local ceiling = tonumber(ARGV[7 + i])
  if limit >= 0 then
    any = true
    if ceiling > 0 and ceiling < limit then limit = ceiling end
    set[#set + 1] = names[i] .. '_limit'
    set[#set + 1] = limit
    if limit > 0 and remaining >= 0 then
      local rate = limit * factor * target / 60000
      local cap = math.max(rate * burst, 1)
      local level = old_levels[i]
      if level == nil then
        level = math.min(cap, remaining)
      else
        level = math.min(cap, level + rate * math.max(0, now - ts))
        -- The API's view wins when it has less: someone else shares the key. (Callers pass the
        -- upper end of a rounded remainder, so rounding alone never lowers the level.)
        if remaining < level then level = remaining end
      end
      set[#set + 1] = names[i] .. '_level'
      set[#set + 1] = level
    end
  end
end
if any then
  set[#set + 1] = 'ts'
  set[#set + 1] = now
  if st[5] or st[6] then redis.call('HDEL', h, 'probe_until', 'headerless') end
end
if #set > 0 then redis.call('HSET', h, unpack(set)) end
return table.concat(before, ',')
