-- wrk script for scripts/bench-server.sh: replays pre-signed bodies like
-- replay.lua, but at a fixed rate (an open-loop schedule, as wrk2 -R does;
-- Debian has no wrk2).
--
--   wrk -t1 -cN -d300s --latency -s scripts/bench/paced.lua URL -- PATH FILE DONE RATE
--
-- Request k of the run is due at start + k / RATE. Before each request a
-- connection takes the next due time and waits until it (wrk's delay()).
-- wrk measures a request's latency from when it is sent; that equals the
-- latency from its due time only while the server keeps up, so done()
-- reports how late requests were sent against the schedule (`lag_*`): a
-- lag near zero means the latency percentiles carry no coordinated
-- omission. Use enough connections that one is always free (Little's law:
-- rate x latency).

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } timespec;
  int clock_gettime(int clk_id, timespec *tp);
]]
local ts = ffi.new("timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local interval_ms = 1
local start = nil
local slot = 0

-- Answers (2xx or not) and the schedule's lag.
s2xx = 0
sother = 0
late_sends = 0
lag_max_ms = 0
lag_sum_ms = 0

function init(args)
  read_args(args)
  interval_ms = 1000 / tonumber(args[4])
end

function delay()
  local now = now_ms()
  if start == nil then
    start = now
  end
  local due = start + slot * interval_ms
  slot = slot + 1
  if due > now then
    return math.floor(due - now)
  end
  local lag = now - due
  if lag > 1 then
    late_sends = late_sends + 1
  end
  lag_sum_ms = lag_sum_ms + lag
  if lag > lag_max_ms then
    lag_max_ms = lag
  end
  return 0
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    count_answer("s2xx")
  else
    count_answer("sother")
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  report(summary, latency, {"answered", "s2xx", "sother", "late_sends", "lag_max_ms"},
    e.connect + e.read + e.write + e.timeout)
end
