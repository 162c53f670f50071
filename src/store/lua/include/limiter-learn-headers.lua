-- Learning an answer's rate-limit headers (included by limiter-observe-1.lua and
-- limiter-settle-1.lua; needs limiter-hash.lua and limiter-bucket.lua). `headers` is the named argument both take:
--   limit, remaining, ceiling: arrays {requests, input tokens, output tokens}; -1 = not sent
--   (ceiling: 0 = none); remaining at its upper end when the API rounds it;
--   held: what the API's bucket has shown it holds (a remainder above zero, at its lower end, plus
--   the charge of the request it answered); -1 = nothing shown. Only the output bucket uses it
--   (limiter-bucket.lua);
--   at: when the answer began (ms): its remainders are as of then (default: now);
--   charge: the answered call's cost {requests, input, output tokens} (optional).
-- The announced limit (capped by the ceiling) replaces the stored one; the level refills to `now`
-- and takes the API's remainder when that is lower (someone else shares the key). Headers end a
-- learned (header-less) limit and the discovery. Returns the limits known before, as "req,in,out".
local LEARNING_FIELDS = { 'req_limit', 'req_level', 'learned', 'slow_start', 'learn_hold_until',
  'probe_after', 'sent_start', 'sent_since', 'sent_count', 'sent_prev' }

local function learn_headers(hash, headers, tuning, now)
  local factor = num(hash, 'factor') or 1
  local burst = num(hash, 'burst_ms') or tuning.burstMs
  local ts = num(hash, 'ts') or now
  local sent = false
  for i = 1, 3 do if headers.limit[i] >= 0 then sent = true end end
  if sent and hash.f.learned == '1' then
    -- Headers after all: the announced limits replace the learned one.
    for _, name in ipairs(LEARNING_FIELDS) do del(hash, name) end
  end
  local before = {}
  for i = 1, 3 do
    local b = bucket_names[i]
    local old = num(hash, b .. '_limit')
    before[i] = old and tostring(old) or ''
    local limit, remaining, ceiling = headers.limit[i], headers.remaining[i], headers.ceiling[i]
    if limit >= 0 then
      if ceiling > 0 and ceiling < limit then limit = ceiling end
      put(hash, b .. '_limit', limit)
      local held = headers.held and headers.held[i] or -1
      if held > (num(hash, b .. '_held') or 0) then put(hash, b .. '_held', math.min(held, limit)) end
      if limit > 0 and remaining >= 0 then
        local rate = limit * factor * tuning.target / 60000
        local cap = bucket_capacity(i, rate, burst, limit, num(hash, b .. '_held'), tuning)
        local level = num(hash, b .. '_level')
        if level == nil then
          level = math.min(cap, remaining)
          -- The first remainder (the discovery's answer): zero may hide a debt, the part of the
          -- call's charge beyond what the API's bucket held (taken as this bucket's capacity).
          local charge = headers.charge and headers.charge[i] or 0
          if remaining <= 0 and charge > cap then level = cap - charge end
        else
          level = math.min(cap, level + rate * math.max(0, now - ts))
          -- The API's view wins when it has less: someone else shares the key. The remainder is
          -- as of when the answer began (`at`): the API's bucket has refilled since.
          local seen = remaining + rate * math.max(0, now - (headers.at or now))
          if seen < level then level = seen end
        end
        put(hash, b .. '_level', level)
      end
    end
  end
  if sent then
    put(hash, 'ts', now)
    del(hash, 'probe_until')
    del(hash, 'headerless')
  end
  return table.concat(before, ',')
end
