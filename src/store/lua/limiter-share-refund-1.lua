--[[
  Give back to a tenant's share buckets of a model group what an answered call did not use (the
  same amounts the group's buckets get back: limiter-settle-1.lua). Nothing when the buckets are
  gone (expired: they count as full).

  Input:
    KEYS[1] the tenant's share buckets of the group (limiter-admit-2.lua's KEYS[2])

    ARGV[1] the arguments, one JSON object:
      refund  {input, output} tokens to give back (negative = charge more)

  Output:
    1 when the buckets were there, else 0
]]
local refund = cjson.decode(ARGV[1]).refund
local sh = KEYS[1]
if redis.call('EXISTS', sh) == 0 then return 0 end
local names = { 'in', 'out' }
for i = 1, 2 do
  local d = refund[i]
  if d ~= 0 and redis.call('HEXISTS', sh, names[i] .. '_level') == 1 then
    redis.call('HINCRBYFLOAT', sh, names[i] .. '_level', d)
  end
end
return 1
