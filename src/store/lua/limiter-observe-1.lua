--[[
  Learn from a response's rate-limit headers (the discovery request's, as they arrive; other
  answers' are learned by limiter-settle-1.lua in the same step as the settle).

  Input:
    KEYS[1] the group's hash

    ARGV[1] the arguments, one JSON object:
      now      ms
      headers  {limit, remaining, ceiling, held}: arrays {requests, input, output tokens}, -1 = not
               sent (ceiling: 0 = none); include/limiter-learn-headers.lua
      answered true: an answer began (the discovery request's, or the overload probe's): without
               headers, while no limit is known, the group's request limit is learned from here on
               (include/limiter-learn-limit.lua); after an overload pause, the overload is over
               (limiter-admit-2.lua: the probe)
      tuning   config.limiter.tuning (core/settings.ts)

  Output:
    "req,in,out": the limits known before ('' where none), to log discoveries and changes
]]
--- @include "limiter-hash"
--- @include "limiter-bucket"
--- @include "limiter-meter"
--- @include "limiter-learn-headers"
--- @include "limiter-learn-limit"

local a = cjson.decode(ARGV[1])
local hash = load_hash(KEYS[1], { 'factor', 'burst_ms', 'ts', 'learned', 'probe_until', 'headerless',
  'req_limit', 'in_limit', 'out_limit', 'req_level', 'in_level', 'out_level', 'out_held', 'pace_ref_at', 'pace_ref_e', 'pace_ref_b',
  'pause_reason' })
local sent = false
for i = 1, 3 do if a.headers.limit[i] >= 0 then sent = true end end
local before = ',,'
if sent then
  before = learn_headers(hash, a.headers, a.tuning, a.now, true)
elseif a.answered and hash.f.learned ~= '1' and not hash.f.req_limit and not hash.f.in_limit
   and not hash.f.out_limit then
  start_learning(hash, a.now, a.tuning)
end
if a.answered and hash.f.pause_reason == 'overloaded' then
  -- The probe's answer began: the API serves again.
  del(hash, 'pause_reason')
  del(hash, 'probe_until')
end
flush(hash)
return before
