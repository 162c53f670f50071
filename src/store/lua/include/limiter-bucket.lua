-- A bucket's capacity (included by every limiter script that refills a bucket, so admission and
-- header learning agree on it). A bucket holds `burst` ms of its refill: requests are spread and no
-- minute's allowance goes out at once. The output-token bucket may hold more: the API charges
-- `max_tokens` at admission and gives back the unused part at the end, so with a `max_tokens` of
-- several seconds of refill a one-second bucket would let one call out at a time while the API's
-- bucket holds several. `held` is what the API's own output bucket has shown it holds (a
-- remainder plus the charge it was taken after; limiter-learn-headers.lua), at most the limit; the
-- capacity follows it at the group's pace, and shrinks with the burst after a 429.
local function bucket_capacity(i, rate, burst, limit, held, tuning)
  local cap = math.max(rate * burst, 1)
  if i == 3 and held and held > 0 and limit > 0 then
    local pace = rate * 60000 / limit
    cap = math.max(cap, math.min(held, limit) * pace * burst / tuning.burstMs)
  end
  return cap
end
