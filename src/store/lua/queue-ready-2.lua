--[[
  Readiness: can this connection run promptq's scripts on this queue? Touches two of the queue's
  keys in one call, so on a Redis Cluster a prefix without the queue's hash tag fails here
  (CROSSSLOT) as every worker call would. Reads only.

  Input:
    KEYS[1] BullMQ's meta hash of the queue
    KEYS[2] the queue's tenant-pending hash

  Output:
    { type of KEYS[1], type of KEYS[2] } ('none' for a key not there yet)
]]
return { redis.call('TYPE', KEYS[1])['ok'], redis.call('TYPE', KEYS[2])['ok'] }
