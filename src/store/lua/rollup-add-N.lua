--[[
  Add a batch of finished jobs to the rollups (rollup-store.ts; the increments are summed per key
  and field before they come here): every counter hash gets its increments and its expiry, every
  slowest-calls set its members, trimmed to the slowest kept, and its expiry (a counter hash only
  when the write makes one of its fields). One command for the
  whole batch, however many jobs, keys and fields. All keys are the queue's (one slot when tagged).

  Input (N = counter hashes + slowest sets):
    KEYS[1] … KEYS[H]      counter hashes (per-minute, per-day)
    KEYS[H + 1] … KEYS[N]  slowest-calls sorted sets

    ARGV[1]          H
    ARGV[2]          how many members a slowest set keeps
    ARGV[3]          the slowest sets' expiry (seconds)
    then per hash:   its expiry (seconds), its field count F, then F pairs: field, increment
    then per set:    its member count M, then M pairs: score, member

  Output:
    the number of keys written
]]
local rcall = redis.call
local hashes = tonumber(ARGV[1])
local keep = tonumber(ARGV[2])
local setTtl = tonumber(ARGV[3])
local a = 4
for i = 1, hashes do
  local key, ttl, fields = KEYS[i], ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  -- A hash gets its expiry when one of its fields is new (HINCRBY answered the increment itself):
  -- a hash whose fields all existed already got its expiry when they were made, so no EXPIRE is
  -- sent for it (most writes to a busy minute).
  local fresh = false
  for _ = 1, fields do
    local by = ARGV[a + 1]
    if rcall('HINCRBY', key, ARGV[a], by) == tonumber(by) then fresh = true end
    a = a + 2
  end
  if fresh then rcall('EXPIRE', key, ttl) end
end
for i = hashes + 1, #KEYS do
  local key, members = KEYS[i], tonumber(ARGV[a])
  a = a + 1
  local add = {}
  for j = 1, 2 * members do add[j] = ARGV[a + j - 1] end
  a = a + 2 * members
  if members > 0 then
    rcall('ZADD', key, unpack(add))
    rcall('ZREMRANGEBYRANK', key, 0, -(keep + 1))
    rcall('EXPIRE', key, setTtl)
  end
end
return #KEYS
