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
    target = route.upstream
    local c = route.canary
    if c then
      local canary_eps = upstreams[c.upstream]
      -- a canary without ready endpoints is skipped (stable serves), as in ingress-nginx
      if canary_eps and #canary_eps > 0 and choose_canary(c) then
        target = c.upstream
        ngx.var.kanary_canary = target
        ngx.var.kanary_upstream_name = target
      end
    end
  end
  local eps = upstreams[target]
  if not eps or #eps == 0 then
    return unavailable()
  end
  local n = #eps
  -- round robin per worker; a retry takes the next endpoint, so it lands elsewhere
  local i = (next_index[target] or math.random(n)) % n + 1
  next_index[target] = i
  if n > 1 and not retry then
    -- let nginx retry a failed connection on the other endpoints
    ngx_balancer.set_more_tries(math.min(n - 1, 2))
  end
  local ep = eps[i]
  local ok, err = ngx_balancer.set_current_peer(ep[1], ep[2])
  if not ok then
    ngx.log(ngx.ERR, "kanary: cannot use endpoint ", ep[1], ":", ep[2], ": ", err)
    return ngx.exit(ngx.ERROR)
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
