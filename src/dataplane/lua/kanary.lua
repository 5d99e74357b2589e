-- Kanary's per-request routing inside nginx.
--
-- The configuration gives every location a route id ($kanary_route). The
-- dynamic state (routes with their canary rules, and the ready endpoints of
-- every upstream) is pushed by `kanary ingress` to /state on the admin socket
-- and kept in shared memory, so weight and endpoint changes need no reload.
-- Each worker decodes the state again only when its version changes.

local cjson = require("cjson.safe")
local ngx_balancer = require("ngx.balancer")

local shared = ngx.shared.kanary_state
local M = {}

local cached_version = nil
local routes = {}
local upstreams = {}
-- per-worker round-robin position of each upstream
local next_index = {}
-- the server that answers 503 for requests nothing can serve ("unix:/…/unavailable.sock")
local unavailable_peer = nil

-- The state file that `kanary ingress` writes (atomically) after every acknowledged push starts
-- with its version (`{"version":N,`), so a reload, which finds shared memory at least as new,
-- reads a few bytes of it instead of decoding megabytes.
local function state_file_version(f)
  local head = f:read(64)
  local version = head and head:match('^{"version":(%d+)[,}]')
  return version and tonumber(version)
end

-- The master's copy of the state on disk goes into shared memory when it is newer than what is
-- there: on a fresh start (after a crash, or a restart of `kanary ingress`) the workers then route
-- from their first connection instead of answering 503 until the state is pushed. A reload keeps
-- the shared memory, which is never older than the file, so it is left alone.
local function load_state_file(path)
  local f, err = io.open(path, "rb")
  if not f then
    if not tostring(err):find("No such file", 1, true) then
      ngx.log(ngx.WARN, "kanary: cannot read the state file ", path, ": ", err)
    end
    return
  end
  local version = state_file_version(f)
  local current = shared:get("version")
  if not version or (current and current >= version) then
    f:close()
    if not version then
      ngx.log(ngx.WARN, "kanary: ignoring the state file ", path, ": it does not start with a version")
    end
    return
  end
  f:seek("set", 0)
  local raw = f:read("*a")
  f:close()
  -- the workers decode it (load_state); a damaged file leaves them without routes, as before a push
  local ok, set_err = shared:set("state", raw)
  if not ok then
    ngx.log(ngx.ERR, "kanary: cannot load the state file ", path, " (", #raw, " bytes): ", set_err)
    return
  end
  shared:set("version", version)
end

-- Called from init_by_lua (the master, before the workers fork; again on every reload).
function M.configure(peer, state_file)
  unavailable_peer = peer
  require("kanary_guard").master()
  if state_file then
    load_state_file(state_file)
  end
end

local function load_state()
  local version = shared:get("version")
  if version == cached_version then
    return
  end
  local raw = shared:get("state")
  local state = raw and cjson.decode(raw)
  if not state then
    if raw then
      -- a damaged state file loaded at start: decode it once, not on every request
      ngx.log(ngx.ERR, "kanary: the state of version ", tostring(version), " is not valid JSON")
      cached_version = version
    end
    return
  end
  routes = state.routes or {}
  upstreams = state.upstreams or {}
  cached_version = version
end

function M.init_worker()
  require("kanary_guard").worker()
  -- an independent random stream per worker, like ingress-nginx seeds its workers
  local f = io.open("/dev/urandom", "rb")
  local seed = ngx.now() * 1000 + ngx.worker.pid()
  if f then
    local b = f:read(4)
    f:close()
    if b and #b == 4 then
      local b1, b2, b3, b4 = b:byte(1, 4)
      seed = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
    end
  end
  math.randomseed(seed)
end

-- ingress-nginx's precedence: header, then cookie, then weight.
-- Returns true for canary, false for stable.
local function choose_canary(c)
  if c.header ~= "" then
    local value = ngx.var["http_" .. c.headerVar]
    if value ~= nil then
      if c.headerValue ~= "" then
        if value == c.headerValue then
          return true
        end
      elseif c.headerPattern ~= "" then
        local m, err = ngx.re.match(value, c.headerPattern, "jo")
        if err then
          -- a pattern PCRE cannot compile sends the request to stable, and no later rule is tried
          ngx.log(ngx.ERR, "kanary: canary-by-header-pattern of ", c.ingress, " is invalid: ", err)
          return false
        end
        if m then
          return true
        end
      elseif value == "always" then
        return true
      elseif value == "never" then
        return false
      end
    end
  end
  if c.cookie ~= "" then
    local value = ngx.var["cookie_" .. c.cookie]
    if value == "always" then
      return true
    elseif value == "never" then
      return false
    end
  end
  return math.random(c.weightTotal) <= c.weight
end

-- A managed route's StringMatch (src/dataplane/render.ts): exact, prefix, or an anchored regex.
-- A regex PCRE cannot compile never matches (logged once per worker).
local bad_regex_logged = {}
local function string_matches(value, m, what)
  if value == nil then
    return false
  end
  if m.exact then
    return value == m.exact
  end
  if m.prefix then
    return value:sub(1, #m.prefix) == m.prefix
  end
  if m.regex then
    local from, _, err = ngx.re.find(value, m.regex, "jo")
    if err then
      if not bad_regex_logged[m.regex] then
        bad_regex_logged[m.regex] = true
        ngx.log(ngx.ERR, "kanary: the regex of ", what, " is invalid, it never matches: ", err)
      end
      return false
    end
    return from ~= nil
  end
  return false
end

-- All of a header route's headers match (an absent header never does).
local function headers_match(match, what)
  for i = 1, #match do
    local h = match[i]
    if not string_matches(ngx.var["http_" .. h.var], h, what) then
      return false
    end
  end
  return true
end

-- The first header route (in precedence order) that matches and has ready endpoints.
local function header_route(route)
  local hr = route.headerRoutes
  if not hr then
    return nil
  end
  for i = 1, #hr do
    local h = hr[i]
    local eps = upstreams[h.upstream]
    if eps and #eps > 0 and headers_match(h.match, h.ingress) then
      return h.upstream
    end
  end
  return nil
end

-- The next of an upstream's endpoints, round robin per worker (from a random start).
local function next_endpoint(upstream, eps)
  local n = #eps
  local i = (next_index[upstream] or math.random(n)) % n + 1
  next_index[upstream] = i
  return eps[i]
end

-- Sends the request to the server that answers 503: nothing can serve it.
local function unavailable()
  local ok, err = ngx_balancer.set_current_peer(unavailable_peer)
  if not ok then
    ngx.log(ngx.ERR, "kanary: cannot use the 503 server ", unavailable_peer, ": ", err)
    return ngx.exit(ngx.ERROR)
  end
end

-- The balancer of the one upstream every location proxies to: the one Lua call
-- a request costs.
-- On the first try it makes the routing decision; a chosen canary is recorded
-- in $kanary_canary and $kanary_upstream_name for the access log (the location
-- sets the latter to the stable upstream, so a stable request writes no
-- variable). A retry (proxy_next_upstream) stays on that upstream and takes its
-- next endpoint.
-- When nothing can serve the request goes to the server that answers 503.
function M.balance()
  local target
  local retry = ngx_balancer.get_last_failure()
  if retry then
    target = ngx.var.kanary_upstream_name
  else
    load_state()
    local route_id = ngx.var.kanary_route
    local route = routes[route_id]
    if not route then
      ngx.log(ngx.ERR, "kanary: no state for route ", route_id)
      return unavailable()
    end
    -- managed header routes first (they send 100% of their requests), then the canary's own rules
    local chosen = header_route(route)
    local c = route.canary
    if not chosen and c then
      local canary_eps = upstreams[c.upstream]
      -- a canary without ready endpoints is skipped (stable serves), as in ingress-nginx
      if canary_eps and #canary_eps > 0 and choose_canary(c) then
        chosen = c.upstream
      end
    end
    if chosen then
      target = chosen
      ngx.var.kanary_canary = chosen
      ngx.var.kanary_upstream_name = chosen
    else
      target = route.upstream
    end
  end
  local eps = upstreams[target]
  if not eps or #eps == 0 then
    return unavailable()
  end
  local n = #eps
  -- a retry takes the next endpoint, so it lands elsewhere
  local ep = next_endpoint(target, eps)
  if n > 1 and not retry then
    -- let nginx retry a failed connection on the other endpoints
    ngx_balancer.set_more_tries(math.min(n - 1, 2))
  end
  local ok, err = ngx_balancer.set_current_peer(ep[1], ep[2])
  if not ok then
    ngx.log(ngx.ERR, "kanary: cannot use endpoint ", ep[1], ":", ep[2], ": ", err)
    return ngx.exit(ngx.ERROR)
  end
end

-- ---- mirror routes ----
-- A copy of a matching request goes to the mirror's upstream from a timer, after the access
-- phase: the client's request never waits for it, and its response is read and dropped. When
-- timers run out (lua_max_pending_timers) or the body is too large, the copy is not sent.

local MIRROR_MAX_BODY = 1024 * 1024
-- copies waiting or being sent by this worker, in bytes: beyond this, new copies are dropped
-- (a stalled canary must not make nginx hold an unbounded amount of request data)
local MIRROR_MAX_INFLIGHT = 16 * 1024 * 1024
local mirror_inflight = 0
local HOP_BY_HOP = {
  connection = true,
  ["keep-alive"] = true,
  ["proxy-connection"] = true,
  te = true,
  trailer = true,
  ["transfer-encoding"] = true,
  upgrade = true,
  ["content-length"] = true,
}

-- One RouteMatch: each of its method, path and headers that is set matches.
local function route_match(m)
  return (not m.method or string_matches(ngx.req.get_method(), m.method, "mirror method"))
    and (not m.path or string_matches(ngx.var.uri, m.path, "mirror path"))
    and (not m.headers or headers_match(m.headers, "mirror headers"))
end

-- Any of the RouteMatches (none: every request).
local function mirror_matches(match)
  if #match == 0 then
    return true
  end
  for i = 1, #match do
    if route_match(match[i]) then
      return true
    end
  end
  return false
end

local function send_copy(premature, host, port, request)
  if premature then
    return
  end
  local sock = ngx.socket.tcp()
  sock:settimeouts(1000, 5000, 10000)
  local ok, err = sock:connect(host, port)
  if not ok then
    ngx.log(ngx.INFO, "kanary: mirror to ", host, ":", port, " not sent: ", err)
    return
  end
  ok, err = sock:send(request)
  if ok then
    -- the status line, so the canary sees a whole exchange; the rest is dropped with the connection
    local _, rerr = sock:receive("*l")
    if rerr then
      ngx.log(ngx.INFO, "kanary: mirror to ", host, ":", port, ": ", rerr)
    end
  else
    ngx.log(ngx.INFO, "kanary: mirror to ", host, ":", port, " not sent: ", err)
  end
  sock:close()
end

local function send_mirror(premature, host, port, request)
  local ok, err = pcall(send_copy, premature, host, port, request)
  mirror_inflight = mirror_inflight - #request
  if not ok then
    ngx.log(ngx.ERR, "kanary: mirror to ", host, ":", port, " failed: ", err)
  end
end

local function request_body()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body then
    return body
  end
  local file = ngx.req.get_body_file()
  if not file then
    return ""
  end
  local f = io.open(file, "rb")
  if not f then
    return nil
  end
  local data = f:read(MIRROR_MAX_BODY + 1)
  f:close()
  if data and #data > MIRROR_MAX_BODY then
    return nil
  end
  return data or ""
end

local function mirror_request(body)
  local parts = { ngx.req.get_method(), " ", ngx.var.request_uri, " HTTP/1.1\r\n" }
  local headers = ngx.req.get_headers(100, true)
  for name, value in pairs(headers) do
    if not HOP_BY_HOP[name:lower()] then
      if type(value) == "table" then
        for i = 1, #value do
          parts[#parts + 1] = name .. ": " .. value[i] .. "\r\n"
        end
      else
        parts[#parts + 1] = name .. ": " .. value .. "\r\n"
      end
    end
  end
  if #body > 0 or ngx.var.http_content_length or ngx.var.http_transfer_encoding then
    parts[#parts + 1] = "Content-Length: " .. #body .. "\r\n"
  end
  parts[#parts + 1] = "Connection: close\r\n\r\n"
  parts[#parts + 1] = body
  return table.concat(parts)
end

-- access_by_lua of a location with mirror routes.
function M.mirror()
  load_state()
  local route = routes[ngx.var.kanary_route]
  local ms = route and route.mirrors
  if not ms then
    return
  end
  local request
  for i = 1, #ms do
    local m = ms[i]
    local eps = upstreams[m.upstream]
    if eps and #eps > 0 and math.random(100) <= m.percentage and mirror_matches(m.match) then
      if not request then
        local body = request_body()
        if not body then
          ngx.log(ngx.INFO, "kanary: request body above ", MIRROR_MAX_BODY, " bytes is not mirrored")
          return
        end
        request = mirror_request(body)
      end
      if mirror_inflight + #request > MIRROR_MAX_INFLIGHT then
        ngx.log(ngx.INFO, "kanary: request not mirrored to ", m.ingress, ": ", mirror_inflight, " bytes of copies in flight")
      else
        local ep = next_endpoint(m.upstream, eps)
        local ok, err = ngx.timer.at(0, send_mirror, ep[1], ep[2], request)
        if ok then
          mirror_inflight = mirror_inflight + #request
        else
          ngx.log(ngx.WARN, "kanary: request not mirrored to ", m.ingress, ": ", err)
        end
      end
    end
  end
end

-- POST /state {version, routes, upstreams}: stores the state; replies with the
-- version and any header pattern that PCRE rejects, so the controller can report it.
function M.admin_state()
  if ngx.req.get_method() == "GET" then
    ngx.say(cjson.encode({ version = shared:get("version") or cjson.null }))
    return
  end
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if not body then
    local file = ngx.req.get_body_file()
    if file then
      local f = io.open(file, "rb")
      if f then
        body = f:read("*a")
        f:close()
      end
    end
  end
  local state = body and cjson.decode(body)
  if type(state) ~= "table" or type(state.version) ~= "number" then
    ngx.status = 400
    ngx.say(cjson.encode({ error = "body must be a JSON object with a numeric version" }))
    return
  end
  local pattern_errors = {}
  for id, route in pairs(state.routes or {}) do
    local c = route.canary
    if c and c.headerPattern ~= "" and c.headerValue == "" then
      local _, err = ngx.re.match("", c.headerPattern, "jo")
      if err then
        pattern_errors[c.ingress] = err
      end
    end
  end
  local ok, err = shared:set("state", body)
  if not ok then
    -- the failed set has freed the previous state: the workers keep the copy they decoded, and
    -- without a version the next reload or start loads the last acknowledged state from disk
    shared:delete("version")
    ngx.status = 500
    ngx.say(cjson.encode({ error = "cannot store state: " .. tostring(err) }))
    return
  end
  shared:set("version", state.version)
  ngx.say(cjson.encode({ version = state.version, patternErrors = pattern_errors }))
end

return M
