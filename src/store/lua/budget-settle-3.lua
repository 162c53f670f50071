--[[
  Settle a call admitted by budget-reserve-4.lua: drop its hold and add its real cost to the spend
  of the day and month it was admitted in (a call that ran past midnight counts where it started).
  A hold that expired meanwhile is charged all the same (the money was spent), unless `once`: then
  only a hold still there is charged, so a settlement repeated after a crash (a Message Batches
  job's, settled by whichever collector collects its batch) charges once. Amounts in nano-USD.

  Input:
    KEYS[1] the tenant's holds
    KEYS[2] the tenant's spend of the admission's day
    KEYS[3] the tenant's spend of the admission's month

    ARGV[1] reservation id
    ARGV[2] real cost (0 = the call was not made or cost nothing)
    ARGV[3] TTL of the day's spend (s): past the end of the day
    ARGV[4] TTL of the month's spend (s): past the end of the month
    ARGV[5] once: '1' = charge only if the hold is still there ('0' or absent: charge all the same)

  Output:
    {spent_day, spent_month}
]]
local dropped = redis.call('HDEL', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 and (dropped == 1 or ARGV[5] ~= '1') then
  redis.call('INCRBY', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  redis.call('INCRBY', KEYS[3], ARGV[2])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
return { tonumber(redis.call('GET', KEYS[2]) or '0'), tonumber(redis.call('GET', KEYS[3]) or '0') }
