--[[
  Write jobs that finished outside the queue (Message Batches results) as BullMQ jobs in their
  final state, so that every reader — `GET /v1/jobs/:id`, `promptq results`, Bull Board, BullMQ's
  own age-based cleanup — sees them as it sees a job a worker finished. A job that exists is left
  alone: results read twice (a resumed run) are written once. Then, as BullMQ does when a worker
  finishes a job, finished jobs past their age are removed from each set (at most 1000 a call), so
  a queue fed only by batches does not keep them for ever.

  Input (N = 3 + jobs):
    KEYS[1]       the queue's completed sorted set
    KEYS[2]       the queue's failed sorted set
    KEYS[3]       the queue's events stream
    KEYS[3 + i]   job i's hash

    ARGV[9(i-1) + 1..9]  job i: id, status (completed|failed), name, data, opts (JSON),
                         timestamp (enqueued, ms), processedOn (ms), finishedOn (ms),
                         returnvalue (completed) or failedReason (failed)
    ARGV[9 × jobs + i]   job i's record (JSON)
    ARGV[10 × jobs + 1]  keep completed jobs this long (ms; 0: for ever)
    ARGV[10 × jobs + 2]  keep failed jobs this long (ms; 0: for ever)
    ARGV[10 × jobs + 3]  the job key prefix (`<prefix>:<queue>:`; the removed jobs' keys are it + id)

  Output:
    one number per job: 1 written, 0 the job already existed
]]
local rcall = redis.call
local jobs = #KEYS - 3
local out = {}
for i = 1, jobs do
  local key = KEYS[3 + i]
  local a = 9 * (i - 1)
  if rcall("EXISTS", key) == 1 then
    out[i] = 0
  else
    local id, status, finishedOn = ARGV[a + 1], ARGV[a + 2], ARGV[a + 8]
    local resultField = status == "completed" and "returnvalue" or "failedReason"
    rcall("HSET", key, "name", ARGV[a + 3], "data", ARGV[a + 4], "opts", ARGV[a + 5],
      "timestamp", ARGV[a + 6], "delay", 0, "priority", 0, "processedOn", ARGV[a + 7],
      "finishedOn", finishedOn, "atm", 1, "ats", 1, resultField, ARGV[a + 9],
      "record", ARGV[9 * jobs + i])
    rcall("ZADD", status == "completed" and KEYS[1] or KEYS[2], finishedOn, id)
    rcall("XADD", KEYS[3], "MAXLEN", "~", 10000, "*", "event", status, "jobId", id,
      resultField, ARGV[a + 9], "prev", "batch")
    out[i] = 1
  end
end

-- Age-based cleanup, BullMQ's way (its removeOnComplete/removeOnFail `age`): the job hash and its log.
local t = rcall("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix = ARGV[10 * jobs + 3]
local function trim(set, keepMs)
  if keepMs <= 0 then return end
  local old = rcall("ZRANGEBYSCORE", set, 0, now - keepMs, "LIMIT", 0, 1000)
  for _, id in ipairs(old) do
    rcall("DEL", prefix .. id, prefix .. id .. ":logs")
  end
  if #old > 0 then rcall("ZREM", set, unpack(old)) end
end
trim(KEYS[1], tonumber(ARGV[10 * jobs + 1]))
trim(KEYS[2], tonumber(ARGV[10 * jobs + 2]))
return out
