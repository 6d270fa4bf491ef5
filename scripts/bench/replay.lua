-- wrk script for scripts/bench-server.sh: replays pre-signed request bodies
-- from a file (one per line), each exactly once and in file order, over
-- wrk's keep-alive connections, then stops.
--
--   wrk -t1 -c32 -d300s --latency -s scripts/bench/replay.lua URL -- PATH FILE DONE
--
-- Run it with one thread (-t1): every thread would replay the whole file.
-- When the file is used up, connections send `GET /health` while the last
-- bodies are answered; the thread stops once as many answers as bodies have
-- come back (so up to one answer per connection, of 32, may be a health
-- check's, and as many body answers are not waited for). The counts of
-- answers by status class are printed by done() as key=value pairs.
--
-- wrk itself runs until -d is over, whatever its threads do; so when the
-- last answer is in, this script creates the file DONE, and the caller
-- (scripts/bench-server.sh) interrupts wrk (SIGINT), which then reports
-- the time actually spent.

local bodies = {}
local total = 0
local sent = 0
local path = "/"
local done_file = nil

-- Answers, by status: globals so that done() can read them from the thread.
answered = 0
s2xx = 0
s4xx = 0
s429 = 0
s5xx = 0
health = 0

function init(args)
  path = args[1]
  done_file = args[3]
  for line in io.lines(args[2]) do
    total = total + 1
    bodies[total] = line
  end
end

function request()
  if sent < total then
    sent = sent + 1
    return wrk.format("POST", path, {["Content-Type"] = "application/json"}, bodies[sent])
  end
  health = health + 1
  return wrk.format("GET", "/health")
end

function response(status, headers, body)
  answered = answered + 1
  if status == 429 then
    s429 = s429 + 1
  elseif status >= 500 then
    s5xx = s5xx + 1
  elseif status >= 400 then
    s4xx = s4xx + 1
  else
    s2xx = s2xx + 1
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
    "requests=%d seconds=%.3f p50_us=%d p99_us=%d answered=%d s2xx=%d s4xx=%d s429=%d s5xx=%d health=%d errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    t:get("answered"), t:get("s2xx"), t:get("s4xx"), t:get("s429"), t:get("s5xx"), t:get("health"),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
      + summary.errors.timeout))
end
