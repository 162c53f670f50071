--[[
  Give back to a tenant's per-minute quota (quota-admit-2.lua's buckets) requests and tokens it was
  charged for: a call the limiter then deferred (not made), or the tokens a call's estimate exceeded
  its real use by. Nothing when the buckets are gone (expired: they count as empty).

  Input:
    KEYS[1] the tenant's quota buckets (hash: req, tok, at)

    ARGV[1] requests to give back
    ARGV[2] tokens to give back (negative = charge more)

  Output:
    1 when the buckets were there, else 0
]]
local b = KEYS[1]
if redis.call('EXISTS', b) == 0 then return 0 end
local req = tonumber(ARGV[1])
local tok = tonumber(ARGV[2])
if req ~= 0 then redis.call('HINCRBYFLOAT', b, 'req', -req) end
if tok ~= 0 then redis.call('HINCRBYFLOAT', b, 'tok', -tok) end
return 1
