--[[
  A tenant's quota: at most `rpm` requests and `tpm` tokens per minute (either may be absent),
  shared by every worker. Two leaky buckets of one minute's capacity that drain continuously; a
  call is admitted when both have room for it, else the caller learns how long until they do.

  Input:
    KEYS[1] the tenant's hash (fields rpm, tpm; absent = no quota)
    KEYS[2] the tenant's quota buckets (hash: req, tok, at)

    ARGV[1] now (ms)
    ARGV[2] the call's tokens (input estimate + max_tokens)

  Output:
    0 when admitted (counted), else the wait in ms until it would be, and which quota:
    {0} | {wait_ms, 'requests' | 'tokens'}
]]
local rpm = tonumber(redis.call('HGET', KEYS[1], 'rpm') or '')
local tpm = tonumber(redis.call('HGET', KEYS[1], 'tpm') or '')
if rpm == nil and tpm == nil then return { 0 } end
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local at = tonumber(redis.call('HGET', KEYS[2], 'at') or now)
local elapsed = math.max(0, now - at)
local req = math.max(0, (tonumber(redis.call('HGET', KEYS[2], 'req') or '0')) - (rpm or 0) * elapsed / 60000)
local tok = math.max(0, (tonumber(redis.call('HGET', KEYS[2], 'tok') or '0')) - (tpm or 0) * elapsed / 60000)
if rpm ~= nil and req + 1 > rpm then
  return { math.ceil((req + 1 - rpm) * 60000 / math.max(rpm, 1e-9)), 'requests' }
end
-- A call larger than a whole minute's tokens waits for an empty bucket, then goes alone.
if tpm ~= nil and tok > 0 and tok + cost > tpm then
  return { math.ceil((tok + math.min(cost, tpm) - tpm) * 60000 / math.max(tpm, 1e-9)), 'tokens' }
end
redis.call('HSET', KEYS[2], 'req', req + 1, 'tok', tok + cost, 'at', now)
redis.call('PEXPIRE', KEYS[2], 120000)
return { 0 }
