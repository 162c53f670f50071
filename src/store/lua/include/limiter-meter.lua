-- A rate meter over a sliding window (included by the limiter scripts; needs limiter-hash.lua).
-- Stored in the group hash as four fields under a prefix p: p_start (when measuring began: a
-- pause restarts it), p_since (the current window's start), p_count (events in it) and p_prev
-- (events in the window before). The rate over the last `window` ms weighs the previous window by
-- the part of it still inside; less than `window` measured, the rate is over what was measured.
-- `ok`: the group's successes; `sent`: a learned group's admissions the API did not refuse.

local function meter_read(hash, p, now)
  local m = { start = num(hash, p .. '_start'), since = num(hash, p .. '_since'),
    count = num(hash, p .. '_count') or 0, prev = num(hash, p .. '_prev') or 0 }
  if not m.start then m.start, m.since = now, now end
  return m
end

local function meter_write(hash, p, m)
  put(hash, p .. '_start', m.start)
  put(hash, p .. '_since', m.since)
  put(hash, p .. '_count', m.count)
  put(hash, p .. '_prev', m.prev)
end

-- Move the windows up to `now`.
local function meter_roll(m, now, window)
  local since = m.since or now
  if now < since then return end
  local n = math.floor((now - since) / window)
  if n >= 1 then
    if n == 1 then m.prev = m.count else m.prev = 0 end
    m.count = 0
    m.since = since + n * window
  end
end

-- Count `d` events (negative: take back) at `now`.
local function meter_add(hash, p, now, window, d)
  local m = meter_read(hash, p, now)
  meter_roll(m, now, window)
  m.count = math.max(0, m.count + d)
  meter_write(hash, p, m)
end

-- Start measuring afresh from `at` (the end of a pause).
local function meter_restart(hash, p, at)
  meter_write(hash, p, { start = at, since = at, count = 0, prev = 0 })
end

-- Events per minute over the last window; nil with less than half a second measured or fewer than
-- `min_count` events.
local function meter_rpm(hash, p, now, window, min_count)
  local m = meter_read(hash, p, now)
  meter_roll(m, now, window)
  local elapsed = math.min(window, now - m.start)
  local frac = math.max(0, math.min(1, (now - m.since) / window))
  local n = m.prev * (1 - frac) + m.count
  if elapsed < 500 or n < min_count then return nil end
  return n * 60000 / elapsed
end
