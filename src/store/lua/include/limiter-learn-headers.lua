-- Learning an answer's rate-limit headers (included by limiter-observe-1.lua and
-- limiter-settle-1.lua; needs limiter-hash.lua and limiter-bucket.lua). `headers` is the named argument both take:
--   limit, remaining, ceiling: arrays {requests, input tokens, output tokens}; -1 = not sent
--   (ceiling: 0 = none); remaining at its upper end when the API rounds it;
--   held: what the API's bucket has shown it holds (a remainder above zero, at its lower end, plus
--   the charge of the request it answered); -1 = nothing shown. Only the output bucket uses it
--   (limiter-bucket.lua);
--   at: when the answer began (ms): its remainders are as of then (default: now);
--   charge: the answered call's cost {requests, input, output tokens} (optional);
--   admitted: the group's levels right after the answered call was admitted {requests, input,
--   output tokens} (null: unknown), the instant the remainders describe (optional).
-- The announced limit (capped by the ceiling) replaces the stored one; the level refills to `now`
-- and takes the API's remainder when that is lower (someone else shares the key). Headers end a
-- learned (header-less) limit and the discovery. Returns the limits known before, as "req,in,out".
local LEARNING_FIELDS = { 'req_limit', 'req_level', 'learned', 'slow_start', 'learn_hold_until',
  'probe_after', 'sent_start', 'sent_since', 'sent_count', 'sent_prev' }

-- A remainder rounded down to thousands arrives at its upper end (x999): its lower end.
local function remaining_lower(i, remaining)
  if i > 1 and remaining >= 999 and (remaining + 1) % 1000 == 0 then return remaining - 999 end
  return remaining
end

-- The pace learned from the headers' own remainders (learn_pace). Right after a call was admitted,
-- the API's remainder less our bucket's level (`admitted`, `admittedAt`; in the headers' units, ours
-- ÷ the pace factor) is the excess the API holds over what we think we hold. Its level says little
-- (the API's bucket may cover a longer window than ours), but its trend does: an excess growing by
-- r × the announced limit means the API's bucket fills faster than we spend (the headers
-- understate), a shrinking one that it empties (they overstate, or someone else takes part of the
-- key); either way the pace that keeps it level is factor / (1 - r). The factor takes that
-- step (r within ±0.5, the factor up to trustMax) when |r| is at least trustStep. A measure spans
-- learnWindowMs at least, and enough of the limit that two grains of the remainders (1, or 1000
-- when rounded) are less than trustStep of it; a reference older than two minutes starts over. Measured
-- on the bucket of ours that was the emptiest (the one pacing us) over learnWindowMs at least,
-- between answers whose remainders are above zero (a zero may hide a debt or a refusal). Only when
-- the limiter aims at the whole limit (target at least 1 - trustStep).
local PACE_FIELDS = { 'pace_ref_at', 'pace_ref_e', 'pace_ref_b' }

local function pace_sample(hash, headers, tuning, burst)
  local adm = headers.admitted
  if type(adm) ~= 'table' or not headers.admittedAt then return nil end
  local factor = num(hash, 'factor') or 1
  local best, fill
  for i = 1, 3 do
    local limit, remaining = headers.limit[i], headers.remaining[i]
    if type(adm[i]) == 'number' and limit > 0 and remaining > 0 then
      local rate = limit * factor * tuning.target / 60000
      local cap = bucket_capacity(i, rate, burst, limit, num(hash, bucket_names[i] .. '_held'), tuning)
      if not fill or adm[i] / cap < fill then best, fill = i, adm[i] / cap end
    end
  end
  if not best then return nil end
  local remaining = headers.remaining[best]
  local lower = remaining_lower(best, remaining)
  -- The remainder's grain: 1, or 1000 when rounded (then a measure spans 40 times as much).
  local grain = 1
  if lower < remaining then grain = 1000 end
  return { b = best, at = headers.admittedAt, e = lower - adm[best] / factor,
    rate = headers.limit[best] / 60000, factor = factor, grain = grain }
end

local function learn_pace(hash, headers, tuning, burst)
  -- Aiming below the whole limit (target < 1 - trustStep), the API's bucket fills by design: its
  -- trend says nothing about the headers, which are then taken as announced.
  if tuning.target < 1 - tuning.trustStep then return end
  local s = pace_sample(hash, headers, tuning, burst)
  if not s then return end
  local ref_at, ref_b = num(hash, 'pace_ref_at'), num(hash, 'pace_ref_b')
  if not ref_at or ref_b ~= s.b or math.abs(s.at - ref_at) > 120000 then
    put(hash, 'pace_ref_at', s.at)
    put(hash, 'pace_ref_e', s.e)
    put(hash, 'pace_ref_b', s.b)
    return
  end
  local dt = s.at - ref_at
  -- Long enough that two grains of the remainders err by less than trustStep.
  local span = math.max(tuning.learnWindowMs, 2 * s.grain / tuning.trustStep / s.rate)
  if math.abs(dt) < span then return end
  local r = (s.e - num(hash, 'pace_ref_e')) / dt / s.rate
  r = math.max(-0.5, math.min(0.5, r))
  if math.abs(r) >= tuning.trustStep then
    local f = s.factor / (1 - r)
    put(hash, 'factor', math.max(tuning.minFactor, math.min(tuning.trustMax, f)))
    -- Measured afresh from here, at the new pace.
    put(hash, 'pace_ref_at', s.at)
    put(hash, 'pace_ref_e', s.e)
    return
  end
  if dt > 0 then
    put(hash, 'pace_ref_at', s.at)
    put(hash, 'pace_ref_e', s.e)
  end
end

-- `vote`: learn the pace from the remainders too (learn_pace; not from a 429's: the API refused).
local function learn_headers(hash, headers, tuning, now, vote)
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
      -- A pace above 1 (the headers understate) scales what they show the bucket holds.
      local trust = math.max(1, factor)
      local charged = headers.charge and headers.charge[i] or 0
      local held = headers.held and headers.held[i] or -1
      if held > 0 then held = (held - charged) * trust + charged end
      if held > (num(hash, b .. '_held') or 0) then put(hash, b .. '_held', math.min(held, limit * trust)) end
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
          local seen = remaining * trust + rate * math.max(0, now - (headers.at or now))
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
    if vote then learn_pace(hash, headers, tuning, burst) end
  end
  return table.concat(before, ',')
end
