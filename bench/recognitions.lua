-- wrk script: POST /v1/recognitions between MEMBERS members (m0..), a random distinct
-- pair and a fresh Idempotency-Key on every request, with the key in KEY. Prints one
-- RESULT line of JSON: requests, 2xx, answers by status, latency percentiles (ms).
local key = os.getenv("KEY") or ""
local members = tonumber(os.getenv("MEMBERS") or "100")
local value = os.getenv("VALUE") or "teamwork"
local nonce = os.getenv("NONCE") or "run"
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  ok = 0
  statuses = {}
  math.randomseed(id * 7919)
end

function request()
  n = n + 1
  local a = math.random(0, members - 1)
  local b = (a + math.random(1, members - 1)) % members
  local body = string.format(
    '{"from_member":"m%d","to_member":"m%d","value":"%s","points":1,' ..
    '"message":"Thanks for the help with the release"}', a, b, value)
  return wrk.format("POST", "/v1/recognitions", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
    ["Idempotency-Key"] = string.format("%s-%d-%d", nonce, id, n),
  }, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    local s = tostring(status)
    statuses[s] = (statuses[s] or 0) + 1
  end
end

function done(summary, latency, requests)
  local total_ok = 0
  local refused = {}
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    for s, count in pairs(thread:get("statuses")) do
      refused[s] = (refused[s] or 0) + count
    end
  end
  local parts = {}
  for s, count in pairs(refused) do
    table.insert(parts, string.format('"%s": %d', s, count))
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "ok": %d, "seconds": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, ' ..
    '"max_ms": %.3f, "refused": {%s}, "socket_errors": %d}\n',
    summary.requests, total_ok, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, table.concat(parts, ", "),
    e.connect + e.read + e.write + e.timeout))
end
