--[[
  The turn of a call with a cacheable prompt prefix (limiter/cache-order.ts): the first call with a
  prefix the API does not hold writes it; the others wait for its answer to begin, then read it.
  The key holds `c` while the API holds the prefix (its cache lifetime), `w:<token>` while a
  writer's call is out (its lease), nothing otherwise.

  Input:
    KEYS[1] the prefix's key (Keyspace.limiterCachePrefix)

    ARGV[1] op: `claim`, `peek` (claim nothing), `cached` or `release`
    ARGV[2] the caller's token (claim, release)
    ARGV[3] ms: the writer's lease (claim) or the cache lifetime (cached)

  Output:
    claim:   {'cached', ms left} | {'write', lease ms} | {'writing', ms left on the writer's lease}
    peek:    {'cached', ms left} | {'free', 0} | {'writing', ms left on the writer's lease}
    cached:  1
    release: 1 when the caller's write was released, else 0
]]
local key, op, token, ms = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
if op == 'cached' then
  redis.call('SET', key, 'c', 'PX', ms)
  return 1
end
local v = redis.call('GET', key)
if op == 'release' then
  if v == 'w:' .. token then
    redis.call('DEL', key)
    return 1
  end
  return 0
end
if not v then
  if op == 'peek' then return { 'free', 0 } end
  redis.call('SET', key, 'w:' .. token, 'PX', ms)
  return { 'write', ms }
end
if v == 'c' then return { 'cached', redis.call('PTTL', key) } end
return { 'writing', redis.call('PTTL', key) }
