-- What replay.lua and paced.lua (the wrk scripts of scripts/bench-server.sh)
-- share: the bodies read from FILE, each sent once and in order and then
-- `GET /health` while the last answers come back; the count of answers,
-- and the file DONE once as many answers as bodies are in; the key=value
-- line that scripts/bench/run.py reads. Each script loads this file with
-- dofile() and adds its own response() and done() (and paced.lua its
-- schedule). wrk runs the script in a Lua state per thread and one for
-- setup() and done(): the globals below are per thread, and done() reads a
-- thread's with thread:get().

requests = {}
health_request = nil
total = 0
sent = 0
done_file = nil
answered = 0
health = 0

-- The arguments after `--`: PATH FILE DONE (then the script's own).
-- Every request is formatted here, before the run: formatting each in
-- request() cost wrk about 4 us more CPU per request (measured in
-- docs/performance.md), taken from the two cores that the server and
-- PostgreSQL share with it during the measurement.
function read_args(args)
  local path = args[1]
  done_file = args[3]
  local headers = {["Content-Type"] = "application/json"}
  for line in io.lines(args[2]) do
    total = total + 1
    requests[total] = wrk.format("POST", path, headers, line)
  end
  health_request = wrk.format("GET", "/health")
end

function init(args)
  read_args(args)
end

function request()
  if sent < total then
    sent = sent + 1
    return requests[sent]
  end
  health = health + 1
  return health_request
end

-- Counts an answer in the global counter `name`; after the last one, marks
-- DONE and stops the thread.
function count_answer(name)
  answered = answered + 1
  _G[name] = _G[name] + 1
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

-- Prints the run's figures, the first thread's `counters` (a list of
-- global names) and `errors` as one line of key=value pairs.
function report(summary, latency, counters, errors)
  local t = threads[1]
  local fields = {string.format("requests=%d seconds=%.3f p50_us=%d p99_us=%d",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99))}
  for _, name in ipairs(counters) do
    table.insert(fields, name .. "=" .. tostring(t:get(name)))
  end
  table.insert(fields, "errors=" .. tostring(errors))
  io.write(table.concat(fields, " ") .. "\n")
end
