--[[
  Save a job's record in the job's own hash, only while the job exists: a late write for a job
  that was just removed must not leave an orphan hash behind.

  Input:
    KEYS[1] the job hash

    ARGV[1] the record (JSON)

  Output:
    1 written, 0 the job no longer exists
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'record', ARGV[1])
  return 1
end
return 0
