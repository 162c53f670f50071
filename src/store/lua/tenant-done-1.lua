--[[
  A tenant's job finished: count it down, never below zero (the tenant's later jobs move up).

  Input:
    KEYS[1] the queue's tenant-pending hash

    ARGV[1] the tenant ('' = none)

  Output:
    the tenant's pending jobs left
]]
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return n
