-- wrk script of bench.load: drives the gateway's REST API (or the trivial ceiling app) and writes what it
-- saw as JSON for bench.wrk_report to read.
--
-- Environment (set by bench.load):
--   BENCH_SCENARIO  create | mixed | echo
--   BENCH_TOKENS    file with one trader's JWT per line (create, mixed)
--   BENCH_OUT       where done() writes the JSON result
--   BENCH_RUN       a nonce for this run's Idempotency-Keys
--   BENCH_PER_OP    "1" when every thread owns exactly one connection: request() and response() then
--                   alternate strictly, so the time between them is that request's latency and the
--                   per-endpoint samples are exact. With several connections per thread they interleave:
--                   only wrk's own (whole-run) latency distribution is recorded, a response's endpoint is
--                   read from its body (errors count as "unknown"), and each thread trades as one trader.
--
-- Every thread picks traders round-robin, starting at its own offset (but see BENCH_PER_OP). Orders and
-- closes carry a fresh Idempotency-Key each. mixed: open 40%, close 30% (the oldest position this thread
-- opened; an open when it has none), GET /trade/open 15%, GET /balance 15%.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local scenario = os.getenv("BENCH_SCENARIO") or "create"
-- in every Idempotency-Key, so a second run against the same traders never replays an earlier outcome
local run_id = os.getenv("BENCH_RUN") or tostring(os.time())
local per_op = os.getenv("BENCH_PER_OP") == "1"
local one_trader = scenario == "mixed" and not per_op
local ORDER = '{"asset":"BTC_USDC","side":"LONG","quantity":"0.001","leverage":10}'
local ECHO = '{"asset":"BTC_USDC","side":"LONG","quantity":"0.001","leverage":10}'

-- setup/done run in the main environment: keep the thread objects to collect their counters at the end
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_index", #threads)
end

-- per thread (its own environment)
thread_index = thread_index or 1
local tokens = {}
local next_trader = 1
local open_ids = {}     -- FIFO of {id, trader} this thread opened and has not closed
local open_head, open_tail = 1, 1  -- next to close, next free slot
local sequence = 0
local pending_op, pending_trader, started_us = nil, nil, 0
-- read by done() through thread:get, which copies only flat tables (a nested one crashes wrk 4.1)
status_counts = {}      -- "op status" -> count
OPS = {"open", "close", "positions", "balance", "echo"}
samples = {}            -- op -> {latency µs, ...} (only with BENCH_PER_OP), exported as samples_<op>
for _, op in ipairs(OPS) do
  samples[op] = {}
  _G["samples_" .. op] = samples[op]
end

-- Requests are concatenated from strings built once in init(): wrk.format per request would cost more
-- generator CPU than the budget (0.1 ms a request) allows on this machine.
local prefix = {}       -- op -> trader -> request text up to the Idempotency-Key value (or all of it)
local ECHO_REQUEST

local function head(method, path, token, length)
  local lines = {method .. " " .. path .. " HTTP/1.1", "Host: " .. wrk.host .. ":" .. tostring(wrk.port)}
  if token then lines[#lines + 1] = "Authorization: Bearer " .. token end
  if length then
    lines[#lines + 1] = "Content-Type: application/json"
    lines[#lines + 1] = "Content-Length: " .. length
  end
  return table.concat(lines, "\r\n") .. "\r\n"
end

function init(args)
  ECHO_REQUEST = head("POST", "/echo", nil, #ECHO) .. "\r\n" .. ECHO
  if scenario ~= "echo" then
    for line in io.lines(os.getenv("BENCH_TOKENS")) do
      if #line > 0 then table.insert(tokens, line) end
    end
    next_trader = ((thread_index - 1) % #tokens) + 1
    prefix = {open = {}, close = {}, positions = {}, balance = {}}
    for trader, token in ipairs(tokens) do
      prefix.open[trader] = head("POST", "/api/v1/trade/create", token, #ORDER) .. "Idempotency-Key: "
      prefix.close[trader] = head("POST", "/api/v1/trade/close", token, nil) .. "Idempotency-Key: "
      prefix.positions[trader] = head("GET", "/api/v1/trade/open", token, nil) .. "\r\n"
      prefix.balance[trader] = head("GET", "/api/v1/balance", token, nil) .. "\r\n"
    end
  end
  math.randomseed(thread_index * 7919)
  -- without a response() wrk does not hand headers and bodies to Lua (cheaper): the mixed load needs
  -- them for the ids to close, per-endpoint timing for the samples; the rest counts statuses server-side
  if scenario ~= "mixed" and not per_op then response = nil end
end

local function take_trader()
  -- several connections per thread: responses cannot be matched to requests, so every request of the
  -- thread is its own trader's and the ids it opens are that trader's to close
  if one_trader then return ((thread_index - 1) % #tokens) + 1 end
  local index = next_trader
  next_trader = (next_trader % #tokens) + 1
  return index
end

-- the operation a response answers, read from its body (when requests and responses do not alternate)
local function answered(status, body)
  if status >= 300 then return "unknown" end
  if string.find(body, '"Order placed"', 1, true) then return "open" end
  if string.find(body, '"Order closed"', 1, true) then return "close" end
  if string.find(body, '"orders"', 1, true) then return "positions" end
  if string.find(body, '"balanceUSD"', 1, true) then return "balance" end
  return "unknown"
end

local function next_key()
  sequence = sequence + 1
  return run_id .. "-" .. thread_index .. "-" .. sequence
end

local function build(op)
  if op == "echo" then return ECHO_REQUEST end
  if op == "close" then
    local entry = open_ids[open_head]
    open_ids[open_head] = nil
    open_head = open_head + 1
    pending_trader = entry[2]
    local body = '{"orderId":"' .. entry[1] .. '"}'
    return prefix.close[entry[2]] .. next_key() .. "\r\nContent-Type: application/json\r\nContent-Length: "
           .. #body .. "\r\n\r\n" .. body
  end
  pending_trader = take_trader()
  if op == "open" then
    return prefix.open[pending_trader] .. next_key() .. "\r\n\r\n" .. ORDER
  end
  return prefix[op][pending_trader]
end

local function choose()
  if scenario == "echo" then return "echo" end
  if scenario == "create" then return "open" end
  local roll = math.random(100)
  if roll <= 40 then return "open" end
  if roll <= 70 then
    if open_head < open_tail then return "close" end
    return "open"
  end
  if roll <= 85 then return "positions" end
  return "balance"
end

function request()
  started_us = now_us()
  pending_op = choose()
  return build(pending_op)
end

function response(status, headers, body)
  local op = pending_op or "unknown"
  if one_trader then op = answered(status, body) end
  local elapsed = now_us() - started_us
  local key = op .. " " .. tostring(status)
  status_counts[key] = (status_counts[key] or 0) + 1
  if per_op then
    local list = samples[op]
    list[#list + 1] = elapsed
  end
  if scenario == "mixed" and op == "open" and status == 201 then
    local id = string.match(body, '"id"%s*:%s*"([^"]+)"')
    if id then
      open_ids[open_tail] = {id, one_trader and take_trader() or pending_trader}
      open_tail = open_tail + 1
    end
  end
end

-- JSON writing for numbers, strings and nested tables of them (keys are strings)
local function encode(value)
  local kind = type(value)
  if kind == "number" then
    if value ~= value or value == math.huge or value == -math.huge then return "null" end
    return string.format("%.17g", value)
  elseif kind == "string" then
    return '"' .. value:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
  elseif kind == "table" then
    if #value > 0 or next(value) == nil then
      local parts = {}
      for i = 1, #value do parts[i] = encode(value[i]) end
      if #value > 0 then return "[" .. table.concat(parts, ",") .. "]" end
      return "{}"
    end
    local parts = {}
    for k, v in pairs(value) do parts[#parts + 1] = encode(tostring(k)) .. ":" .. encode(v) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return "null"
end

-- no 100: wrk 4.1 answers 0 for it (the maximum is latency.max)
local PERCENTILES = {1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99}

function done(summary, latency, requests)
  local result = {
    scenario = scenario,
    per_op = per_op and 1 or 0,
    threads = #threads,
    duration_us = summary.duration,
    requests = summary.requests,
    bytes = summary.bytes,
    errors = {connect = summary.errors.connect, read = summary.errors.read, write = summary.errors.write,
              status = summary.errors.status, timeout = summary.errors.timeout},
    latency_us = {min = latency.min, max = latency.max, mean = latency.mean, stdev = latency.stdev},
    percentiles_us = {},
    statuses = {},
    samples_us = {},
  }
  for _, p in ipairs(PERCENTILES) do
    result.percentiles_us[#result.percentiles_us + 1] = {p, latency:percentile(p)}
  end
  for _, thread in ipairs(threads) do
    for key, count in pairs(thread:get("status_counts") or {}) do
      local op, status = string.match(key, "^(%S+) (%S+)$")
      local merged = result.statuses[op] or {}
      merged[status] = (merged[status] or 0) + count
      result.statuses[op] = merged
    end
    for _, op in ipairs(OPS) do
      local list = thread:get("samples_" .. op) or {}
      if #list > 0 then
        local merged = result.samples_us[op] or {}
        for i = 1, #list do merged[#merged + 1] = list[i] end
        result.samples_us[op] = merged
      end
    end
  end
  local out = assert(io.open(os.getenv("BENCH_OUT"), "w"))
  out:write(encode(result))
  out:close()
end
