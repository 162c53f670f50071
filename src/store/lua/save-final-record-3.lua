--[[
  The final write of a finished job, only by the worker that still holds the job's lock: a worker
  that froze past its lock (GC pause, SIGSTOP) may wake up after another worker took the job over,
  and must not record the job a second time. In the same step the job's tenant is counted down in
  the queue's tenant-pending hash (core/fairness.ts: the tenant's later jobs move up), never below
  zero, and only by the worker that finishes the job.

  Input:
    KEYS[1] the job hash
    KEYS[2] the job's lock
    KEYS[3] the queue's tenant-pending hash

    ARGV[1] the record (JSON)
    ARGV[2] the lock token this worker holds ('' = processed without a lock: nothing to check)
    ARGV[3] the job's tenant ('' = none)

  Output:
    1 written, 0 the job no longer exists, -1 the lock is not ours (nothing written or counted)
]]
local written = 0
if ARGV[2] ~= '' then
  if redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
  -- The lock is ours, so the job exists: BullMQ removes no locked job (and a forced obliterate
  -- takes the lock with it). No EXISTS needed.
  redis.call('HSET', KEYS[1], 'record', ARGV[1])
  written = 1
elseif redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'record', ARGV[1])
  written = 1
end
local n = redis.call('HINCRBY', KEYS[3], ARGV[3], -1)
if n <= 0 then redis.call('HDEL', KEYS[3], ARGV[3]) end
return written
