--[[
  Learn from a response's rate-limit headers (the discovery request's, as they arrive; other
  answers' are learned by limiter-settle-1.lua in the same step as the settle).

  Input:
    KEYS[1] the group's hash

    ARGV[1] the arguments, one JSON object:
      now      ms
      headers  {limit, remaining, ceiling, held}: arrays {requests, input, output tokens}, -1 = not
               sent (ceiling: 0 = none); include/limiter-learn-headers.lua
      tuning   config.limiter.tuning (core/settings.ts): target, burstMs

  Output:
    "req,in,out": the limits known before ('' where none), to log discoveries and changes
]]
--- @include "limiter-hash"
--- @include "limiter-bucket"
--- @include "limiter-learn-headers"

local a = cjson.decode(ARGV[1])
local hash = load_hash(KEYS[1], { 'factor', 'burst_ms', 'ts', 'learned', 'probe_until', 'headerless',
  'req_limit', 'in_limit', 'out_limit', 'req_level', 'in_level', 'out_level', 'out_held' })
local before = learn_headers(hash, a.headers, a.tuning, a.now)
flush(hash)
return before
