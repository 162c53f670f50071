--[[
  A waiting job's place in line (producer/job-view.ts): the jobs BullMQ hands out before it — its
  plain wait list, then the prioritized set up to the job's rank — and the jobs workers hold
  (active, or handed back delayed), each tallied by BullMQ job name (promptq names a job after its
  model), so that the caller counts those of the job's own model group. At most ARGV[3] jobs of
  each kind are read one by one; the totals say how many there are. Reads only.

  Input:
    KEYS[1] the prioritized set   KEYS[2] the wait list
    KEYS[3] the active list       KEYS[4] the delayed set
    ARGV[1] the prefix of a job's hash key (`<base>:`)
    ARGV[2] the job's BullMQ id
    ARGV[3] most jobs of each kind read

  Output:
    false when the job is not in the prioritized set; else
    { jobs ahead, jobs ahead read, { name, count, … } of those read,
      jobs held, jobs held read,   { name, count, … } of those read }
]]
local rank = redis.call('ZRANK', KEYS[1], ARGV[2])
if not rank then return false end
local cap = tonumber(ARGV[3])

local function tally(ids, into)
  for _, id in ipairs(ids) do
    local name = redis.call('HGET', ARGV[1] .. id, 'name') or ''
    into[name] = (into[name] or 0) + 1
  end
end

local function flat(counts)
  local out = {}
  for name, n in pairs(counts) do
    out[#out + 1] = name
    out[#out + 1] = n
  end
  return out
end

-- Tally the first `cap` ids of a list (`n` long), then of a sorted set (its first `m`): how many read.
local function tally_both(list, n, zset, m, into)
  local read = 0
  if n > 0 then
    local ids = redis.call('LRANGE', list, 0, math.min(n, cap) - 1)
    tally(ids, into)
    read = #ids
  end
  if m > 0 and read < cap then
    local ids = redis.call('ZRANGE', zset, 0, math.min(m, cap - read) - 1)
    tally(ids, into)
    read = read + #ids
  end
  return read
end

local plain = redis.call('LLEN', KEYS[2])
local ahead = {}
local read = tally_both(KEYS[2], plain, KEYS[1], rank, ahead)
local active, delayed = redis.call('LLEN', KEYS[3]), redis.call('ZCARD', KEYS[4])
local held = {}
local heldRead = tally_both(KEYS[3], active, KEYS[4], delayed, held)
return { plain + rank, read, flat(ahead), active + delayed, heldRead, flat(held) }
