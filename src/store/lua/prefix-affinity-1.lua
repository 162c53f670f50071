--[[
  Which account of a pool holds a cacheable prompt prefix's cache (limiter/prefix-affinity.ts): calls
  sharing the prefix go there, from every process, while the cache is warm. The key holds the
  account's NAME (never a credential) and expires after the cache lifetime without a call.

  Input:
    KEYS[1] the prefix's key (Keyspace.prefixAffinity: a digest of the prefix, never its text)

    ARGV[1] op: `claim` (the account to pin when none is) or `touch` (a call was admitted there)
    ARGV[2] the account's name
    ARGV[3] ms: the cache lifetime
    ARGV[4] touch: an account the pin may move from ('' = none): the one this call's claim pinned
            and that had no room

  Output:
    claim: { the account holding the prefix, 1 when this claim pinned it else 0 }
    touch: 1 when the prefix is (now) pinned to ARGV[2] and its lifetime restarted, else 0
]]
local key, op, account, ms, from = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local held = redis.call('GET', key)
if op == 'claim' then
  if held then return { held, 0 } end
  redis.call('SET', key, account, 'PX', ms)
  return { account, 1 }
end
if not held or held == account or (from ~= '' and held == from) then
  redis.call('SET', key, account, 'PX', ms)
  return 1
end
return 0
