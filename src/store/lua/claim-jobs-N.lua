--[[
  Claim job ids for enqueueing and reserve a fairness rank for each claimed one, atomically: a job
  is counted in its tenant's pending jobs exactly when this call is the one that adds it.

  A job is claimed when it does not exist and nobody else holds its claim (someone adding the same
  id right now). The claim expires by itself; by then the job exists and the EXISTS check answers.

  Input (N = 1 + 2 × jobs):
    KEYS[1]       the queue's tenant-pending hash
    KEYS[2i]      job i's hash
    KEYS[2i + 1]  job i's claim key

    ARGV[1]       claim lifetime (ms)
    ARGV[2]       tenant-pending lifetime (s), renewed on every enqueue
    ARGV[2 + i]   job i's tenant ('' = none), i = 1 .. jobs
    ARGV[2 + jobs + i]  '1' when job i's id was generated for this call (a fresh UUID: it cannot
                  exist nor be claimed by anyone else, so it is claimed without EXISTS and SET)

  Output:
    one number per job: its rank (>= 0: claimed, add it at that rank), -1 the job exists,
    -2 another submitter holds its claim
]]
local pending = KEYS[1]
local claimMs = ARGV[1]
local out = {}
-- Next rank and jobs claimed per tenant: one HGET and one HINCRBY per tenant, not per job.
local nextRank = {}
local claimed = {}
local any = false
local jobs = (#KEYS - 1) / 2
for i = 1, jobs do
  local job = KEYS[2 * i]
  local claim = KEYS[2 * i + 1]
  local fresh = ARGV[2 + jobs + i] == '1'
  if not fresh and redis.call('EXISTS', job) == 1 then
    out[i] = -1
  elseif fresh or redis.call('SET', claim, '1', 'NX', 'PX', claimMs) then
    local tenant = ARGV[2 + i]
    if nextRank[tenant] == nil then
      nextRank[tenant] = tonumber(redis.call('HGET', pending, tenant)) or 0
      claimed[tenant] = 0
    end
    out[i] = nextRank[tenant]
    nextRank[tenant] = nextRank[tenant] + 1
    claimed[tenant] = claimed[tenant] + 1
    any = true
  else
    out[i] = -2
  end
end
for tenant, n in pairs(claimed) do redis.call('HINCRBY', pending, tenant, n) end
if any then redis.call('EXPIRE', pending, ARGV[2]) end
return out
