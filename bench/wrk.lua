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
-- Extra headers, "Name: value" lines (an Idempotency-Key).
for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end

-- A file of targets, "path if-match" per line, each requested once (an update or a delete
-- needs a record of its own at a known version): each thread takes every n-th line.
local targets_file = os.getenv("BENCH_TARGETS") or ""
local targets = nil
local next_target = 1
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end

function init(args)
  if targets_file == "" then return end
  local thread_index = tonumber(index) or 0
  local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
  targets = {}
  local n = 0
  for line in io.lines(targets_file) do
    if n % thread_count == thread_index then
      local path, match = line:match("^(%S+)%s*(.*)$")
      targets[#targets + 1] = {path, match}
    end
    n = n + 1
  end
  -- Requests in flight when the cap is reached still need targets of their own.
  local usable = math.max(1, #targets - 256)
  if cap == 0 or cap > usable then cap = usable end
end

-- Defined only with targets: the other runs keep wrk's one prebuilt request.
if targets_file ~= "" then
  request = function()
    local target = targets[next_target] or targets[#targets]
    next_target = next_target + 1
    local headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    if target[2] ~= "" then headers["If-Match"] = target[2] end
    return wrk.format(nil, target[1], headers)
  end
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
