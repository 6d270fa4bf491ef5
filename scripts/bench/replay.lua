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

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

-- Answers, by status.
s2xx = 0
s4xx = 0
s429 = 0
s5xx = 0

function response(status, headers, body)
  if status == 429 then
    count_answer("s429")
  elseif status >= 500 then
    count_answer("s5xx")
  elseif status >= 400 then
    count_answer("s4xx")
  else
    count_answer("s2xx")
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  report(summary, latency, {"answered", "s2xx", "s4xx", "s429", "s5xx", "health"},
    e.connect + e.read + e.write + e.status + e.timeout)
end
