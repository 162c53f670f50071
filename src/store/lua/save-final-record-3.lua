--[[
  The final write of a finished job, only by the worker that still holds the job's lock: a worker
  that froze past its lock (GC pause, SIGSTOP) may wake up after another worker took the job over,
  and must not record the job a second time.

  Input:
    KEYS[1] the job hash
    KEYS[2] the job's lock

    ARGV[1] the record (JSON)
    ARGV[2] the lock token this worker holds

  Output:
    1 written, 0 the job no longer exists, -1 the lock is not ours
]]
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'record', ARGV[1])
  return 1
end
return 0
