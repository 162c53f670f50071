--[[
  Settle a call admitted by budget-reserve-4.lua: drop its hold and add its real cost to the spend
  of the day and month it was admitted in (a call that ran past midnight counts where it started).
  A hold that expired meanwhile is charged all the same: the money was spent. Amounts in nano-USD.

  Input:
    KEYS[1] the tenant's holds
    KEYS[2] the tenant's spend of the admission's day
    KEYS[3] the tenant's spend of the admission's month

    ARGV[1] reservation id
    ARGV[2] real cost (0 = the call was not made or cost nothing)
    ARGV[3] TTL of the day's spend (s): past the end of the day
    ARGV[4] TTL of the month's spend (s): past the end of the month

  Output:
    {spent_day, spent_month}
]]
redis.call('HDEL', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 then
  redis.call('INCRBY', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  redis.call('INCRBY', KEYS[3], ARGV[2])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
return { tonumber(redis.call('GET', KEYS[2]) or '0'), tonumber(redis.call('GET', KEYS[3]) or '0') }
