--[[
  Finish jobs that waited in the queue's delayed set while a Message Batch answered them (the
  collector, batches/collector.ts): each job is taken out of the delayed set and written in its final
  state in one step, so that a job is finished once. A job no longer delayed was taken by the live
  route (its time came: BullMQ promoted it) or is gone: it is left alone, and the caller ignores its
  batch result. The tenant is counted down in tenant-pending as a live finish does
  (save-final-record-3.lua). A job finished here also enters the unemitted set, in the same step: its
  events are owed until the collector has emitted them (a collector that dies before is followed by
  one that emits them from the record written here).

  Input (N = 6 + jobs):
    KEYS[1]       the queue's delayed sorted set
    KEYS[2]       the queue's completed sorted set
    KEYS[3]       the queue's failed sorted set
    KEYS[4]       the queue's events stream
    KEYS[5]       the queue's tenant-pending hash
    KEYS[6]       the queue's batch-unemitted set
    KEYS[6 + i]   job i's hash

    ARGV[5(i-1) + 1..5]  job i: id, status (completed|failed), processedOn (ms), finishedOn (ms),
                         returnvalue (completed) or failedReason (failed)
    ARGV[5 × jobs + i]   job i's record (JSON)
    ARGV[6 × jobs + i]   job i's tenant ('' = none)

  Output:
    one number per job: 1 finished now, 0 not in the delayed set (left alone)
]]
local rcall = redis.call
local jobs = #KEYS - 6
local out = {}
for i = 1, jobs do
  local key = KEYS[6 + i]
  local a = 5 * (i - 1)
  local id, status, finishedOn = ARGV[a + 1], ARGV[a + 2], ARGV[a + 4]
  if rcall("ZREM", KEYS[1], id) == 1 and rcall("EXISTS", key) == 1 then
    local resultField = status == "completed" and "returnvalue" or "failedReason"
    rcall("HSET", key, "delay", 0, "processedOn", ARGV[a + 3], "finishedOn", finishedOn,
      "atm", 1, "ats", 1, resultField, ARGV[a + 5], "record", ARGV[5 * jobs + i])
    rcall("ZADD", status == "completed" and KEYS[2] or KEYS[3], finishedOn, id)
    rcall("XADD", KEYS[4], "MAXLEN", "~", 10000, "*", "event", status, "jobId", id,
      resultField, ARGV[a + 5], "prev", "delayed")
    local tenant = ARGV[6 * jobs + i]
    local n = rcall("HINCRBY", KEYS[5], tenant, -1)
    if n <= 0 then rcall("HDEL", KEYS[5], tenant) end
    rcall("SADD", KEYS[6], id)
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
