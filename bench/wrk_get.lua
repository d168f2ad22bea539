-- wrk script for read benchmarks: GET the paths in $BENCH_PATHS_FILE (one per line) in random
-- order with "Authorization: Bearer $BENCH_TOKEN". Prints one line "BENCH_JSON {...}" at the
-- end (latencies in microseconds, errors by kind; non-2xx/3xx answers count as "status").
-- Run it through a benchmark script (bench/common.py, class Wrk), not by hand.

local paths = {}
local thread_no = 0

wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")

function setup(thread)
  thread_no = thread_no + 1
  thread:set("thread_no", thread_no)
end

function init(args)
  for line in io.lines(os.getenv("BENCH_PATHS_FILE")) do
    if line ~= "" then
      paths[#paths + 1] = line
    end
  end
  math.randomseed(os.time() * 1000 + (thread_no or 0))
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p95": %d, "p99": %d, "mean": %.1f, "max": %d}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean,
    latency.max))
end
