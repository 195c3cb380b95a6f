-- The benchmark's wrk script: method, body and credential from the environment, a cap on
-- requests per thread (so a run is bounded in count as well as in time), and a JSON summary.
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local authorization = os.getenv("BENCH_AUTHORIZATION")
local cap = tonumber(os.getenv("BENCH_MAX_REQUESTS_PER_THREAD") or "0")

wrk.method = method
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

local seen = 0
function response(status, headers, body)
  seen = seen + 1
  if cap > 0 and seen >= cap then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    'BENCH-JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, '
      .. '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
