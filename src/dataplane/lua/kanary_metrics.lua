-- Kanary's per-request metrics counted inside nginx (`kanary ingress --metrics-source nginx`).
--
-- The log phase adds each request to a per-worker table (no shared memory, no lock); a timer
-- flushes it every second into the shared dict kanary_metrics with atomic incr, and `kanary
-- ingress` reads the totals at scrape time from GET /metrics on the admin socket. Node then
-- renders the same exposition as the access-log pipeline (metrics.ts).
--
-- Shared dict layout:
--   n            label sets counted (the cap applies to it)
--   next         last series id handed out
--   dropped      requests whose label set would have been beyond the cap
--   k:<labels>   series id of a label set (labels joined by \0, in REQUEST_LABELS order)
--   i:<id>       the label set of a series id
--   v:<id>:<f>   field f of a series (1 requests, 2..13 request-time buckets, 14 request-time
--                sum in ms, 15..26 upstream-time buckets, 27 upstream-time sum in ms,
--                28 upstream-time count); absent = 0
-- Times are summed in integer milliseconds (nginx reports both with millisecond resolution), so
-- the totals do not depend on the order in which workers add them.

local cjson = require("cjson.safe")

local shared = ngx.shared.kanary_metrics
local M = {}

local BUCKETS = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 }
local NB = #BUCKETS + 1 -- with +Inf
local F_REQ, F_RB, F_RSUM = 1, 2, 2 + NB
local F_UB, F_USUM, F_UCOUNT = F_RSUM + 1, F_RSUM + 1 + NB, F_RSUM + 2 + NB
local NFIELDS = F_UCOUNT

local METHODS = {
  GET = true, HEAD = true, POST = true, PUT = true, DELETE = true,
  CONNECT = true, OPTIONS = true, TRACE = true, PATCH = true,
}

local max_series = 5000
-- label sets counted by this worker since the last flush
local pending_n = 0
-- label key → series id, for label sets this worker has flushed (cleared when series are removed)
local ids = {}
local ids_generation = nil

local function bucket(v)
  for i = 1, #BUCKETS do
    if v <= BUCKETS[i] then
      return i
    end
  end
  return NB
end

-- "0.001, 0.002 : 0.003": the sum of the tries, in ms; nil when no time is known
local function upstream_ms(s)
  if not s then
    return nil
  end
  -- one try, the usual case: without gmatch, which LuaJIT cannot compile (it would run this
  -- whole log handler in the interpreter)
  local one = tonumber(s)
  if one then
    return math.floor(one * 1000 + 0.5)
  end
  if s == "" or s == "-" then
    return nil
  end
  local total = 0
  for part in s:gmatch("[^,:]+") do
    local n = tonumber(part)
    if n then
      total = total + math.floor(n * 1000 + 0.5)
    end
  end
  return total
end

-- route id → its location's labels "ingress\0namespace\0service\0" and "\0server\0" … "\0path".
-- They come from nginx.conf (the location's `set`s), which a worker never sees change (a reload
-- starts new workers), so each worker reads them once per location, not per request.
local route_labels = {}
-- this worker's counts since the last flush, nested: route → status → canary → method → fields
-- (no label string is built per request; the flush builds them)
local counts = {}

local ngx_now, start_time, get_method = ngx.now, ngx.req.start_time, ngx.req.get_method

-- log_by_lua: one request. Every label comes from the configuration (see docs/dataplane.md).
function M.log()
  local var = ngx.var
  local route = var.kanary_route
  if not route or route == "" then
    return -- matched no Ingress (the default server's 404), or the admin and 503 servers
  end
  local by_status = counts[route]
  if not by_status then
    if not route_labels[route] then
      local server = var.kanary_server
      if not server or server == "" then
        server = "_"
      end
      route_labels[route] = {
        var.kanary_ingress .. "\0" .. var.kanary_namespace .. "\0" .. var.kanary_service .. "\0",
        "\0" .. server .. "\0",
        "\0" .. var.kanary_path,
      }
    end
    by_status = {}
    counts[route] = by_status
  end
  local status = ngx.status
  local by_canary = by_status[status]
  if not by_canary then
    by_canary = {}
    by_status[status] = by_canary
  end
  local canary = var.kanary_canary or ""
  local by_method = by_canary[canary]
  if not by_method then
    by_method = {}
    by_canary[canary] = by_method
  end
  local method = get_method()
  if not METHODS[method] then
    method = "OTHER"
  end
  local s = by_method[method]
  if not s then
    s = {}
    for i = 1, NFIELDS do
      s[i] = 0
    end
    by_method[method] = s
    pending_n = pending_n + 1
  end
  -- nginx's $request_time: the cached time minus the request's start, in whole milliseconds
  local rt_ms = math.floor((ngx_now() - start_time()) * 1000 + 0.5)
  if rt_ms < 0 then
    rt_ms = 0
  end
  s[F_REQ] = s[F_REQ] + 1
  local b = F_RB - 1 + bucket(rt_ms / 1000)
  s[b] = s[b] + 1
  s[F_RSUM] = s[F_RSUM] + rt_ms
  -- no upstream was tried when nginx's own 503 server (unix socket) answered; it only answers 503
  if status == 503 then
    local addr = var.upstream_addr
    if not addr or addr == "" or addr == "-" or addr:sub(1, 5) == "unix:" then
      return
    end
  end
  local ut = upstream_ms(var.upstream_response_time)
  if ut then
    b = F_UB - 1 + bucket(ut / 1000)
    s[b] = s[b] + 1
    s[F_USUM] = s[F_USUM] + ut
    s[F_UCOUNT] = s[F_UCOUNT] + 1
  end
end

-- The series id of a label set, registering it unless the cap is reached (then nil).
local function series_id(key)
  local gen = shared:get("gen")
  if gen ~= ids_generation then
    ids = {}
    ids_generation = gen
  end
  local id = ids[key]
  if id then
    return id
  end
  id = shared:get("k:" .. key)
  if not id then
    local n = shared:incr("n", 1, 0)
    if n > max_series then
      shared:incr("n", -1, 0)
      return nil
    end
    id = shared:incr("next", 1, 0)
    local ok = shared:add("k:" .. key, id)
    if not ok then
      -- another worker registered it meanwhile
      shared:incr("n", -1, 0)
      id = shared:get("k:" .. key)
      if not id then
        return nil
      end
    else
      shared:set("i:" .. id, key)
    end
  end
  ids[key] = id
  return id
end

function M.flush()
  if pending_n == 0 then
    return
  end
  local batch = counts
  counts = {}
  pending_n = 0
  local dropped = 0
  for route, by_status in pairs(batch) do
    local rl = route_labels[route]
    for status, by_canary in pairs(by_status) do
      for canary, by_method in pairs(by_canary) do
        for method, s in pairs(by_method) do
          local key = rl[1] .. status .. "\0" .. canary .. rl[2] .. method .. rl[3]
          local id = series_id(key)
          if id then
            local prefix = "v:" .. id .. ":"
            for f = 1, NFIELDS do
              if s[f] ~= 0 then
                local _, err = shared:incr(prefix .. f, s[f], 0)
                if err then
                  ngx.log(ngx.ERR, "kanary: cannot count metrics: ", err)
                end
              end
            end
          else
            dropped = dropped + s[F_REQ]
          end
        end
      end
    end
  end
  if dropped > 0 then
    shared:incr("dropped", dropped, 0)
  end
end

local function on_timer(premature)
  -- premature: the worker is exiting (reload, stop): flush what it counted last
  M.flush()
end

-- init_worker_by_lua
function M.init_worker(max, interval)
  max_series = max
  local ok, err = ngx.timer.every(interval or 1, on_timer)
  if not ok then
    ngx.log(ngx.ERR, "kanary: cannot start the metrics timer: ", err)
  end
end

-- GET /metrics on the admin socket: {series: [[labels, f1..f28], …], dropped}
-- POST /metrics {"keep": ["namespace/ingress", …]}: forgets the series of other Ingresses.
function M.admin()
  M.flush() -- this worker's own counts; the others flush every second
  if ngx.req.get_method() == "POST" then
    ngx.req.read_body()
    local body = cjson.decode(ngx.req.get_body_data() or "")
    if type(body) ~= "table" or type(body.keep) ~= "table" then
      ngx.status = 400
      ngx.say(cjson.encode({ error = 'body must be {"keep": ["namespace/ingress", …]}' }))
      return
    end
    local keep = {}
    for _, k in ipairs(body.keep) do
      keep[k] = true
    end
    local removed = 0
    for id = 1, shared:get("next") or 0 do
      local key = shared:get("i:" .. id)
      if key then
        local ingress, namespace = key:match("^([^%z]*)%z([^%z]*)%z")
        if not keep[(namespace or "") .. "/" .. (ingress or "")] then
          shared:delete("i:" .. id)
          shared:delete("k:" .. key)
          for f = 1, NFIELDS do
            shared:delete("v:" .. id .. ":" .. f)
          end
          shared:incr("n", -1, 0)
          removed = removed + 1
        end
      end
    end
    if removed > 0 then
      -- the workers forget their cached ids (a worker flushing right now may still add to a
      -- removed id: those counts are lost with the Ingress, as intended)
      shared:incr("gen", 1, 0)
    end
    ngx.say(cjson.encode({ removed = removed }))
    return
  end
  local out = {}
  for id = 1, shared:get("next") or 0 do
    local key = shared:get("i:" .. id)
    if key then
      local row = { key }
      local prefix = "v:" .. id .. ":"
      for f = 1, NFIELDS do
        row[f + 1] = shared:get(prefix .. f) or 0
      end
      out[#out + 1] = row
    end
  end
  ngx.header["content-type"] = "application/json"
  ngx.say(cjson.encode({ series = out, dropped = shared:get("dropped") or 0 }))
end

return M
