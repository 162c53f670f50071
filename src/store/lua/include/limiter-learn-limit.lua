-- A header-less group's request limit, learned as congestion control (included by
-- limiter-observe-1.lua and limiter-settle-1.lua; needs limiter-hash.lua and limiter-meter.lua;
-- docs/limiter.md states it). Fields: learned = 1, req_limit (the learned limit), slow_start,
-- learn_hold_until (429s until then correct nothing: they answer requests sent before the last
-- correction), probe_after (no increase until then), and the `sent` meter (the admissions the API
-- did not refuse, counted by limiter-admit-2.lua).
--   start:      at the first answer without headers (its start, or its end), the limit is
--               learnStartRpm and the bucket empty;
--   slow start: each success adds learnSlowStartStep (the rate grows by about half of itself
--               every second) until the first 429;
--   correct:    a 429 means the API's bucket is empty, so the admissions it took over the last
--               window are the limit: the limit becomes the smaller of itself and that rate,
--               × learnDecrease (none taken in the window: half the limit); the group pauses for
--               retry-after and measures afresh from there;
--   hold:       no increase for a window after the pause;
--   re-probe:   then each success adds learnStep (additive: a limit that was raised is found
--               again, slowly enough that the next 429 costs few calls).

local function start_learning(hash, now, t)
  put(hash, 'headerless', '1')
  put(hash, 'learned', '1')
  put(hash, 'slow_start', '1')
  put(hash, 'req_limit', t.learnStartRpm)
  put(hash, 'req_level', 0)
  put(hash, 'ts', now)
  del(hash, 'probe_until')
  meter_restart(hash, 'sent', now)
  meter_restart(hash, 'ok', now)
end

-- A 429 of a learned group (not the discovery request's).
local function correct_learned(hash, now, paused, t)
  meter_add(hash, 'sent', now, t.learnWindowMs, -1)
  if now < (num(hash, 'learn_hold_until') or 0) then return end
  local limit = num(hash, 'req_limit')
  -- (Nothing taken over the window: fewer than one request in it, so at most half of the limit.)
  local measured = meter_rpm(hash, 'sent', now, t.learnWindowMs, 1) or limit * 0.5
  put(hash, 'req_limit', math.max(1, math.min(limit, measured) * t.learnDecrease))
  put(hash, 'slow_start', '0')
  put(hash, 'learn_hold_until', paused)
  put(hash, 'probe_after', paused + t.learnWindowMs)
  meter_restart(hash, 'sent', paused)
end

-- A success of a learned group: slow start, or (past the hold) re-probe.
local function raise_learned(hash, now, t)
  local step
  if hash.f.slow_start == '1' then
    step = t.learnSlowStartStep
  elseif now >= (num(hash, 'probe_after') or 0) then
    step = t.learnStep
  else
    return
  end
  put(hash, 'req_limit', (num(hash, 'req_limit') or 0) + step)
end
