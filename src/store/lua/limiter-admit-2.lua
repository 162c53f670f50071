--[[
  Admit one request if every bucket of its model group can take it (limiter/shared-state.ts
  describes the hash's fields; docs/limiter.md states the algorithm) and, when the call's tenant
  has a share quota, the tenant's share buckets of the group can too: both or neither are charged,
  so a tenant over its share takes nothing from the group.

  Input:
    KEYS[1] the group's hash
    KEYS[2] the tenant's share buckets of this group (hash: req_level, in_level, out_level, ts;
            under the group's hash tag; untouched when share is 0)

    ARGV[1] the arguments, one JSON object:
      now     ms
      cost    {requests, input tokens, output tokens} the call takes
      share   the tenant's share of the group's limits, (0, 1]; 0 = no share quota
      tuning  config.limiter.tuning (core/settings.ts): target, burstMs, reserveMs, discoveryTtlMs

  Output:
    {waitMs, state[, bucket, levels...]}: waitMs 0 = admitted (the costs are taken), then '' and
    the group's three levels after the charge ('' where no limit is known: the discovery), which
    the answer's remainders are compared with (include/limiter-learn-headers.lua);
    state = ok | discovery (admitted as the group's one discovery request: its limits are unknown)
    | probe (admitted as the one request that tries the API after an overload pause) | paused |
    pacing | discovering (another request's discovery is out) | probing (another request's overload
    probe is out) | quota (the tenant's share has no room: bucket = req | in | out, the share bucket
    that is short)
]]
--- @include "limiter-hash"
--- @include "limiter-bucket"
--- @include "limiter-meter"

local a = cjson.decode(ARGV[1])
local tuning = a.tuning
local h = KEYS[1]
local now = a.now
local cost = a.cost
local target = tuning.target
local names = bucket_names
local st = redis.call('HMGET', h, 'paused_until', 'req_limit', 'in_limit', 'out_limit', 'req_level', 'in_level', 'out_level',
  'ts', 'factor', 'burst_ms', 'probe_until', 'out_held', 'learned', 'pause_reason')
local paused = tonumber(st[1]) or 0
-- (Waits go up to whole ms: Redis answers a script's numbers as integers, and a jittered pause
-- ending 0.4 ms from now would read as a wait of 0, admitted.)
if paused > now then return { math.ceil(paused - now), 'paused' } end
local limits = { tonumber(st[2]), tonumber(st[3]), tonumber(st[4]) }
if not limits[1] and not limits[2] and not limits[3] then
  local discovery_until = tonumber(st[11]) or 0
  if discovery_until > now then return { math.ceil(discovery_until - now), 'discovering' } end
  redis.call('HSET', h, 'probe_until', now + tuning.discoveryTtlMs)
  return { 0, 'discovery' }
end
-- After an overload (529) pause, one request tries the API (the overload probe) and the others
-- wait for its answer: every waiting call sent at the pause's end would meet the same 529s.
local probing = st[14] == 'overloaded'
if probing then
  local probe_until = tonumber(st[11])
  if probe_until and probe_until > now then return { math.ceil(probe_until - now), 'probing' } end
  if probe_until then
    -- The probe went and no 529 came back in time: the API serves again, every call goes.
    redis.call('HDEL', h, 'pause_reason', 'probe_until')
    probing = false
  end
end
local ts = tonumber(st[8]) or now
local factor = tonumber(st[9]) or 1
local burst = tonumber(st[10]) or tuning.burstMs
local out_held = tonumber(st[12])
local dt = math.max(0, now - ts)
local wait = 0
local levels = {}
for i = 1, 3 do
  local limit = limits[i]
  if limit and limit > 0 then
    local rate = limit * factor * target / 60000
    local cap = bucket_capacity(i, rate, burst, limit, out_held, tuning)
    local level = math.min(cap, (tonumber(st[4 + i]) or 0) + rate * dt)
    levels[i] = level
    -- Keep a reserve of reserve_ms of refill in the bucket: the API's bucket then always holds that
    -- much too, which absorbs the jitter between our admission and the request's arrival. It costs
    -- a one-time delay, not throughput. An oversized request (more than the bucket holds) goes once
    -- the bucket is full.
    -- (The need is clamped to the capacity itself: (cap - reserve) + reserve may round to one ulp
    -- above cap, and a full bucket would then never admit the oversized request.)
    local reserve = math.min(rate * tuning.reserveMs, cap / 2)
    local need = math.min(cap, math.min(cost[i], cap - reserve) + reserve)
    if level < need then wait = math.max(wait, math.ceil((need - level) / rate)) end
  end
end
-- The tenant's share: the same buckets at `share` of the group's pace (no reserve: the group's
-- holds it). A bucket never seen (or expired) starts full. Its capacity is the group's burst at that
-- pace (at least one call); a call larger than that goes once the share bucket is full.
local share = a.share or 0
local sh = KEYS[2]
local swait, short = 0, nil
local slevels, scaps, srates = {}, {}, {}
if share > 0 then
  local ss = redis.call('HMGET', sh, 'req_level', 'in_level', 'out_level', 'ts')
  local sts = tonumber(ss[4])
  for i = 1, 3 do
    local limit = limits[i]
    if limit and limit > 0 then
      local rate = limit * factor * target * share / 60000
      local cap = bucket_capacity(i, rate, burst, limit, out_held, tuning)
      local level = cap
      if sts then level = math.min(cap, (tonumber(ss[i]) or cap) + rate * math.max(0, now - sts)) end
      slevels[i], scaps[i], srates[i] = level, cap, rate
      local need = math.min(cost[i], cap)
      if level < need then
        local w = math.ceil((need - level) / rate)
        if w > swait then swait, short = w, names[i] end
      end
    end
  end
end
-- One HSET for every field written (a script's commands count against Redis like a client's). The
-- group's buckets are charged only when the tenant's share can take the call too.
local charge = wait == 0 and swait == 0
local set = { 'ts', now }
for i = 1, 3 do
  if levels[i] then
    set[#set + 1] = names[i] .. '_level'
    if charge then set[#set + 1] = levels[i] - cost[i] else set[#set + 1] = levels[i] end
  end
end
redis.call('HSET', h, unpack(set))
if charge and st[13] == '1' then
  -- A learned (header-less) limit: count the admission; a 429 takes it back (limiter-learn-limit.lua).
  local hash = load_hash(h, { 'sent_start', 'sent_since', 'sent_count', 'sent_prev' })
  meter_add(hash, 'sent', now, tuning.learnWindowMs, 1)
  flush(hash)
end
-- Over its share, the tenant's call steps aside (the limiter defers it) whatever the group's pace.
if swait > 0 then return { math.max(wait, swait), 'quota', short } end
if wait > 0 then return { wait, 'pacing' } end
if share > 0 then
  -- Kept until its buckets are full again (then an absent hash means the same), plus a minute.
  local ttl = 60000
  local sset = { 'ts', now }
  for i = 1, 3 do
    if slevels[i] then
      local left = slevels[i] - cost[i]
      sset[#sset + 1] = names[i] .. '_level'
      sset[#sset + 1] = left
      ttl = math.max(ttl, math.ceil((scaps[i] - left) / srates[i]) + 60000)
    end
  end
  redis.call('HSET', sh, unpack(sset))
  redis.call('PEXPIRE', sh, ttl)
end
-- The levels after the charge, as strings (a script's numbers reach the caller as integers).
local after = {}
for i = 1, 3 do
  if levels[i] then after[i] = tostring(levels[i] - cost[i]) else after[i] = '' end
end
if probing then
  -- The others wait until its answer begins or its settle, at most overloadBaseMs: an overloaded
  -- API answers 529 at once, before any output, while a call it serves may take seconds to begin;
  -- no 529 by then ends the overload (above).
  redis.call('HSET', h, 'probe_until', now + math.min(tuning.overloadBaseMs, tuning.discoveryTtlMs))
  return { 0, 'probe', '', after[1], after[2], after[3] }
end
return { 0, 'ok', '', after[1], after[2], after[3] }
