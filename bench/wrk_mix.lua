-- The two-instance benchmark's wrk script: a fixed mix of requests, taken in turn by each
-- connection's thread from BENCH_MIX (one "METHOD<TAB>PATH<TAB>BODY" per line), each built
-- once; the credential from BENCH_AUTHORIZATION; the same JSON summary as wrk.lua.
local requests = {}
local index = 0

function init(args)
  local authorization = os.getenv("BENCH_AUTHORIZATION") or ""
  for line in string.gmatch(os.getenv("BENCH_MIX") or "", "[^\n]+") do
    local method, path, body = string.match(line, "^([^\t]*)\t([^\t]*)\t?(.*)$")
    local headers = { ["Authorization"] = authorization }
    if body == "" then
      body = nil
    else
      headers["Content-Type"] = "application/json"
    end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
  -- Threads start at different places in the mix, so they do not move through it in step.
  index = math.random(#requests) - 1
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

-- Answers other than 2xx, by status, as "503=12 500=1" (rare: rebuilt on each).
local refused = {}
failures = ""

function response(status, headers, body)
  if status >= 300 then
    refused[status] = (refused[status] or 0) + 1
    local parts = {}
    for code, count in pairs(refused) do
      parts[#parts + 1] = code .. "=" .. count
    end
    failures = table.concat(parts, " ")
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, requests)
  local failed = {}
  for _, thread in ipairs(threads) do
    local text = thread:get("failures")
    if text and text ~= "" then
      failed[#failed + 1] = text
    end
  end
  io.write("BENCH-FAILURES " .. table.concat(failed, " ") .. "\n")
  io.write(string.format(
    'BENCH-JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, '
      .. '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
