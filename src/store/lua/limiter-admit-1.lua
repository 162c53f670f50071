--[[
  Admit one request if every bucket of its model group can take it (limiter/shared-state.ts
  describes the hash's fields).

  Input:
    KEYS[1] the group's hash

    ARGV[1] now (ms)
    ARGV[2] cost: requests
    ARGV[3] cost: input tokens
    ARGV[4] cost: output tokens
    ARGV[5] target utilisation (0..1]
    ARGV[6] default burst (ms of refill a bucket holds)
    ARGV[7] discovery probe lifetime (ms)
    ARGV[8] reserve (ms of refill never spent)

  Output:
    {waitMs, state}: waitMs 0 = admitted (the costs are taken);
    state = ok | probe | paused | pacing | discovering
]]
local h = KEYS[1]
local now = tonumber(ARGV[1])
local cost = { tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]) }
local target = tonumber(ARGV[5])
local names = { 'req', 'in', 'out' }
local st = redis.call('HMGET', h, 'paused_until', 'req_limit', 'in_limit', 'out_limit', 'req_level', 'in_level', 'out_level',
  'ts', 'factor', 'burst_ms', 'probe_until')
local paused = tonumber(st[1]) or 0
if paused > now then return { paused - now, 'paused' } end
local limits = { tonumber(st[2]), tonumber(st[3]), tonumber(st[4]) }
if not limits[1] and not limits[2] and not limits[3] then
  local probe = tonumber(st[11]) or 0
  if probe > now then return { probe - now, 'discovering' } end
  redis.call('HSET', h, 'probe_until', now + tonumber(ARGV[7]))
  return { 0, 'probe' }
end
local ts = tonumber(st[8]) or now
local factor = tonumber(st[9]) or 1
local burst = tonumber(st[10]) or tonumber(ARGV[6])
local dt = math.max(0, now - ts)
local wait = 0
local levels = {}
for i = 1, 3 do
  local limit = limits[i]
  if limit and limit > 0 then
    local rate = limit * factor * target / 60000
    local cap = math.max(rate * burst, 1)
    local level = math.min(cap, (tonumber(st[4 + i]) or 0) + rate * dt)
    levels[i] = level
    -- Keep a reserve of reserve_ms of refill in the bucket: the API's bucket then always holds that
    -- much too, which absorbs the jitter between our admission and the request's arrival. It costs
    -- a one-time delay, not throughput. An oversized request (more than the bucket holds) goes once
    -- the bucket is full.
    local reserve = math.min(rate * tonumber(ARGV[8]), cap / 2)
    local need = math.min(cost[i], cap - reserve) + reserve
    if level < need then wait = math.max(wait, math.ceil((need - level) / rate)) end
  end
end
-- One HSET for every field written (a script's commands count against Redis like a client's).
local set = { 'ts', now }
for i = 1, 3 do
  if levels[i] then
    set[#set + 1] = names[i] .. '_level'
    if wait > 0 then set[#set + 1] = levels[i] else set[#set + 1] = levels[i] - cost[i] end
  end
end
redis.call('HSET', h, unpack(set))
if wait > 0 then return { wait, 'pacing' } end
return { 0, 'ok' }
