--[[
  Settle one answered request: give back what it did not use, then adapt the group's pace
  (additive recovery on success, multiplicative decrease and a pause on 429, exponential backoff
  on 529). The tuning numbers come from the caller (config.limiter.tuning, core/defaults.ts).
  With ARGV[26] = 1 it also learns from the answer's rate-limit headers, as limiter-observe-1.lua
  does (before the settle on success, after it on a 429/529): one script per call instead of two.

  Input:
    KEYS[1] the group's hash

    ARGV[1]  now (ms)
    ARGV[2]  outcome: success | rate_limited | overloaded | other
    ARGV[3]  input tokens to give back (negative = charge more)
    ARGV[4]  output tokens to give back (negative = charge more)
    ARGV[5]  retry-after (ms; -1 = none)
    ARGV[6]  default burst (ms): the ceiling burst recovers to
    ARGV[7]  floor of the pace factor
    ARGV[8]  first 529 backoff (ms)
    ARGV[9]  longest 529 backoff (ms)
    ARGV[10] jitter, 0..1
    ARGV[11] real/estimated input tokens of this request (-1 = none)
    ARGV[12] rate-limit headers: 1 = the answer carried them, 0 = an answer from the API without
             them, -1 = no answer (network error, timeout)
    ARGV[13] the request was the discovery request: 1 / 0 (a 429 then teaches nothing about pace,
             the limits were unknown, so it only pauses)
    ARGV[14] pace recovery per success (added to the factor, up to 1)
    ARGV[15] burst recovery per success (ms, up to the default burst)
    ARGV[16] pace factor after a 429 (multiplier)
    ARGV[17] burst after a 429 (multiplier)
    ARGV[18] smallest burst (ms)
    ARGV[19] pause after a 429 without retry-after (ms)
    ARGV[20] weight of a new sample in the input-token ratio's moving average (0..1)
    ARGV[21] header-less: the first learned request limit (per minute)
    ARGV[22] header-less: added to the learned limit per success before the first 429 (slow start)
    ARGV[23] header-less: added to the learned limit per success after it
    ARGV[24] header-less: the learned limit after a 429 = min(limit, measured success rate) × this
    ARGV[25] header-less: the success-rate window (ms)
    ARGV[26] headers to learn from: 1 (ARGV[27..36] as limiter-observe-1.lua's ARGV[2..11]) / 0
    ARGV[27..29] limits: requests, input, output tokens (-1 = not sent)
    ARGV[30..32] remaining: requests, input, output tokens (-1 = not sent)
    ARGV[33..35] ceilings: requests, input, output tokens (0 = none)
    ARGV[36] target utilisation (0..1]
    ARGV[37] announced limits: pace recovery per success while cautious (a 429 episode came within
             ARGV[38] of the one before: the headers overstate what this key gets)
    ARGV[38] announced limits: how long after a 429 episode another one makes the group cautious (ms)

  Output:
    {pausedUntil, factor, limitsBefore} as strings (limitsBefore: "req,in,out" known before the
    headers were learned, as limiter-observe-1.lua returns; '' without headers); the group's hash
    expires a day after this call
]]
local h = KEYS[1]
local now = tonumber(ARGV[1])
local outcome = ARGV[2]
local default_burst = tonumber(ARGV[6])
-- Every field read in one HMGET and written in one HSET: a script's commands count against Redis
-- like a client's.
local fields = { 'factor', 'burst_ms', 'paused_until', 'req_level', 'in_level', 'out_level', 'learned',
  'req_limit', 'in_limit', 'out_limit', 'headerless', 'slow_start', 'ok_since', 'ok_count',
  'learn_hold_until', 'in_ratio', 'overload_streak', 'probe_until', 'ts', 'last_429', 'caution_until' }
local raw = redis.call('HMGET', h, unpack(fields))
local f = {}
local existed = {}
for i, name in ipairs(fields) do
  f[name] = raw[i] or nil
  existed[name] = raw[i] and true or false
end
local set = {}
local dels = {}
local function put(name, value)
  set[name] = value
  dels[name] = nil
  f[name] = value
end
local function del(name)
  set[name] = nil
  if existed[name] then dels[name] = true end
  f[name] = nil
end
local names = { 'req', 'in', 'out' }

-- The answer's rate-limit headers (limiter-observe-1.lua, on the fields read above).
local before = {}
local function observe()
  local factor = tonumber(f.factor) or 1
  local burst = tonumber(f.burst_ms) or default_burst
  local ts = tonumber(f.ts) or now
  local target = tonumber(ARGV[36])
  local any = false
  local sent = false
  for i = 1, 3 do if tonumber(ARGV[26 + i]) >= 0 then sent = true end end
  if sent and f.learned == '1' then
    -- Headers after all: the announced limits replace the learned one.
    for _, name in ipairs({ 'req_limit', 'req_level', 'learned', 'slow_start', 'ok_since', 'ok_count',
      'learn_hold_until' }) do del(name) end
  end
  for i = 1, 3 do
    local old = tonumber(f[names[i] .. '_limit'])
    before[i] = old and tostring(old) or ''
    local limit = tonumber(ARGV[26 + i])
    local remaining = tonumber(ARGV[29 + i])
    local ceiling = tonumber(ARGV[32 + i])
    if limit >= 0 then
      any = true
      if ceiling > 0 and ceiling < limit then limit = ceiling end
      put(names[i] .. '_limit', limit)
      if limit > 0 and remaining >= 0 then
        local rate = limit * factor * target / 60000
        local cap = math.max(rate * burst, 1)
        local level = tonumber(f[names[i] .. '_level'])
        if level == nil then
          level = math.min(cap, remaining)
        else
          level = math.min(cap, level + rate * math.max(0, now - ts))
          -- The API's view wins when it has less: someone else shares the key.
          if remaining < level then level = remaining end
        end
        put(names[i] .. '_level', level)
      end
    end
  end
  if any then
    put('ts', now)
    del('probe_until')
    del('headerless')
  end
end
local headers = ARGV[26] == '1'
local pausing = outcome == 'rate_limited' or outcome == 'overloaded'
if headers and not pausing then observe() end

local factor = tonumber(f.factor) or 1
local burst = tonumber(f.burst_ms) or default_burst
local paused = tonumber(f.paused_until) or 0
local refund = { nil, tonumber(ARGV[3]), tonumber(ARGV[4]) }
for i = 2, 3 do
  local level = f[names[i] .. '_level']
  if refund[i] ~= 0 and level then put(names[i] .. '_level', tonumber(level) + refund[i]) end
end
-- Header-less: an answer from the API without rate-limit headers while none were ever seen. The
-- request limit is then learned (field learned = 1) from successes and 429s instead of read.
local learned = f.learned == '1'
if ARGV[12] == '0' and (outcome == 'success' or outcome == 'rate_limited') and not learned
   and not f.req_limit and not f.in_limit and not f.out_limit then
  put('headerless', '1')
end
if outcome == 'success' and f.headerless == '1' then
  if not learned then
    learned = true
    put('learned', '1')
    put('slow_start', '1')
    put('req_limit', tonumber(ARGV[21]))
    put('req_level', 0)
    put('ts', now)
    put('ok_since', now)
    put('ok_count', 0)
  else
    local step = tonumber(ARGV[23])
    if f.slow_start == '1' then step = tonumber(ARGV[22]) end
    put('req_limit', (tonumber(f.req_limit) or 0) + step)
  end
elseif outcome == 'rate_limited' and learned and ARGV[13] ~= '1'
   and now >= (tonumber(f.learn_hold_until) or 0) then
  -- Over the limit: the API's bucket is empty, so what got through lately is the limit itself.
  local limit = tonumber(f.req_limit)
  local since = tonumber(f.ok_since) or now
  local count = tonumber(f.ok_count) or 0
  local elapsed = now - since
  local measured = limit
  if elapsed >= 1000 and count >= 5 then measured = count * 60000 / elapsed end
  limit = math.max(1, math.min(limit, measured) * tonumber(ARGV[24]))
  put('req_limit', limit)
  put('slow_start', '0')
end
-- Successes counted over about the last window (every group: a learned limit and a cautious pace
-- are both corrected from it): when it grows past two windows, keep the last one's worth at the
-- average rate.
if outcome == 'success' and ARGV[13] ~= '1' then
  local window = tonumber(ARGV[25])
  local since = tonumber(f.ok_since) or now
  local count = (tonumber(f.ok_count) or 0) + 1
  put('ok_count', count)
  if not f.ok_since then put('ok_since', now) end
  if now - since > 2 * window then
    put('ok_since', now - window)
    put('ok_count', count * window / (now - since))
  end
end
del('probe_until')
if outcome == 'success' then
  -- Cautious (429 episodes close together under announced limits): climb back slowly.
  local step = tonumber(ARGV[14])
  if now < (tonumber(f.caution_until) or 0) then step = tonumber(ARGV[37]) end
  factor = math.min(1, factor + step)
  burst = math.min(default_burst, burst + tonumber(ARGV[15]))
  put('overload_streak', 0)
  local sample = tonumber(ARGV[11])
  if sample > 0 then
    local w = tonumber(ARGV[20])
    local r = tonumber(f.in_ratio) or sample
    put('in_ratio', r * (1 - w) + sample * w)
  end
elseif outcome == 'rate_limited' then
  -- A learned limit was just corrected above; the pace factor is for announced limits.
  -- One correction per episode: the requests already in flight when the first 429 came answer
  -- 429 too (before the episode's pause ends), and teach nothing more.
  local last = tonumber(f.last_429)
  local episode = last == nil or now >= last
  if ARGV[13] ~= '1' and not learned and episode then
    local decreased = factor * tonumber(ARGV[16])
    if last ~= nil and now - last < tonumber(ARGV[38]) then
      -- Another episode soon after the last: the headers overstate what this key gets (a service
      -- promptq cannot see shares it). The API's bucket is empty, so what got through since the
      -- last episode is about the real limit: pace just under it, and climb back slowly.
      local since = tonumber(f.ok_since) or now
      local count = tonumber(f.ok_count) or 0
      local req = tonumber(f.req_limit)
      if req and req > 0 and now - since >= 1000 and count >= 5 then
        local measured = count * 60000 / (now - since) / (req * tonumber(ARGV[36]))
        -- (At most two decreases' worth in one step: the window may have held idle time.)
        decreased = math.max(decreased * tonumber(ARGV[16]), math.min(factor, measured) * tonumber(ARGV[24]))
      end
      put('caution_until', now + tonumber(ARGV[38]))
    end
    factor = math.max(tonumber(ARGV[7]), decreased)
    burst = math.max(tonumber(ARGV[18]), burst * tonumber(ARGV[17]))
  end
  local ra = tonumber(ARGV[5])
  if ra < 0 then ra = tonumber(ARGV[19]) end
  if now + ra > paused then
    paused = now + ra
    put('paused_until', paused)
    put('pause_reason', 'rate_limited')
  end
  if episode and not learned then
    -- The episode ends with its pause; successes are measured afresh from there.
    put('last_429', paused)
    put('ok_since', paused)
    put('ok_count', 0)
  end
  if learned then
    -- One correction per pause: the requests already in flight answer 429 too. Measure afresh from
    -- the end of the pause.
    put('learn_hold_until', paused)
    put('ok_since', paused)
    put('ok_count', 0)
  end
  -- What was sent while we thought there was room did not all land: start from empty.
  for i = 1, 3 do
    local level = f[names[i] .. '_level']
    if level then put(names[i] .. '_level', math.min(0, tonumber(level))) end
  end
elseif outcome == 'overloaded' then
  local streak = (tonumber(f.overload_streak) or 0) + 1
  put('overload_streak', streak)
  local d = math.min(tonumber(ARGV[9]), tonumber(ARGV[8]) * 2 ^ (streak - 1))
  d = d / 2 + d / 2 * tonumber(ARGV[10])
  local ra = tonumber(ARGV[5])
  if ra > d then d = ra end
  if now + d > paused then
    paused = now + d
    put('paused_until', paused)
    put('pause_reason', 'overloaded')
  end
end
put('factor', factor)
put('burst_ms', burst)
-- On a 429/529 the pause is set first, then the headers are learned.
if headers and pausing then observe() end
local gone = {}
for name in pairs(dels) do gone[#gone + 1] = name end
if #gone > 0 then redis.call('HDEL', h, unpack(gone)) end
local args = {}
for name, value in pairs(set) do
  args[#args + 1] = name
  args[#args + 1] = value
end
redis.call('HSET', h, unpack(args))
-- A group nobody uses any more goes away by itself, a day after its last answered request.
redis.call('PEXPIRE', h, 86400000)
return { tostring(paused), tostring(factor), table.concat(before, ',') }
