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

local bodies = {}
local total = 0
local sent = 0
local path = "/"
local done_file = nil
local interval_ms = 1
local start = nil
local slot = 0

answered = 0
s2xx = 0
sother = 0
late_sends = 0
lag_max_ms = 0
lag_sum_ms = 0

function init(args)
  path = args[1]
  done_file = args[3]
  interval_ms = 1000 / tonumber(args[4])
  for line in io.lines(args[2]) do
    total = total + 1
    bodies[total] = line
  end
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

function request()
  if sent < total then
    sent = sent + 1
    return wrk.format("POST", path, {["Content-Type"] = "application/json"}, bodies[sent])
  end
  return wrk.format("GET", "/health")
end

function response(status, headers, body)
  answered = answered + 1
  if status >= 200 and status < 300 then
    s2xx = s2xx + 1
  else
    sother = sother + 1
  end
  if answered == total then
    if done_file then
      local f = io.open(done_file, "w")
      f:write("done\n")
      f:close()
    end
    wrk.thread:stop()
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local t = threads[1]
  io.write(string.format(
    "requests=%d seconds=%.3f p50_us=%d p99_us=%d answered=%d s2xx=%d sother=%d late_sends=%d lag_max_ms=%.1f errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    t:get("answered"), t:get("s2xx"), t:get("sother"), t:get("late_sends"), t:get("lag_max_ms"),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
