-- Runs Argo CD's resource customization scripts (health.lua, discovery.lua,
-- action.lua) under Lua 5.1, the language version of gopher-lua, which Argo CD
-- embeds. Driven by test/support/argocd-lua.ts: one process per batch.
--
-- stdin:  {"scripts": {"<id>": "<path>", ...},   (the id names the script in error messages)
--          "cases": [{"script": "<id>", "kind": "health"|"discovery"|"action",
--                     "obj": {...}, "now": <unix seconds>}, ...]}
-- stdout: [{"ok": true, "value": <the script's result as JSON>} | {"ok": false, "error": "..."}, ...]
--
-- What the script sees is set up as Argo CD v3.6 does it (util/lua/lua.go):
--   * `obj` is the live object, converted from JSON: null is nil (a key with
--     null is absent, a null array element is dropped), empty objects and
--     arrays are both empty tables, numbers are Lua numbers.
--   * `actionParams` is a table of the action's parameters (none here: {}).
--   * action and discovery scripts get the base library, `package`/`require`,
--     `table` and a safe `os` with only `os.time` and `os.date` (also as
--     `require("os")`); built-in health scripts get the standard libraries
--     (string, math, coroutine, io, and os with Argo CD's time/date merged in),
--     except `debug`, which the driver keeps for its instruction limit.
--   * the script's last return value is the result; a table is turned into
--     JSON as Argo CD's encoder (layeh.com/gopher-json) does: an empty table is
--     `[]`, a table with keys 1..n an array, one with string keys an object,
--     anything else an error.
-- `os.time()` / `os.date()` read the case's `now`, so results are reproducible.
-- A script is stopped after a bounded number of instructions (Argo CD gives
-- each script one second).
local cjson = require('cjson')

local MAX_INSTRUCTIONS = 20000000

-- ---- JSON in: cjson's decoded value, with cjson.null turned into nil as Argo CD does ----

local function from_json(v)
  if v == cjson.null then return nil end
  if type(v) ~= 'table' then return v end
  local out = {}
  if #v > 0 or next(v) == nil then
    -- an array (or an empty container): nil elements are skipped, the rest renumbered
    local n = 0
    for i = 1, #v do
      local x = from_json(v[i])
      if x ~= nil then
        n = n + 1
        out[n] = x
      end
    end
    for k, x in pairs(v) do
      if type(k) ~= 'number' then out[k] = from_json(x) end
    end
    return out
  end
  for k, x in pairs(v) do out[k] = from_json(x) end
  return out
end

-- ---- JSON out, with gopher-json's rules for tables ----

local encode

local function encode_number(n)
  if n ~= n or n == math.huge or n == -math.huge then error('json: unsupported number ' .. tostring(n), 0) end
  if n == math.floor(n) and math.abs(n) < 2 ^ 53 then return string.format('%.0f', n) end
  return string.format('%.17g', n)
end

-- like gopher-json, a table met twice in one result is refused, even when it is not a cycle
local function encode_table(t, seen)
  if seen[t] then error('json: cannot encode recursively nested tables', 0) end
  seen[t] = true
  local first = next(t)
  local parts = {}
  if first == nil then
    return '[]'
  end
  if type(first) == 'number' then
    local count = 0
    for k in pairs(t) do
      if type(k) ~= 'number' then error('json: cannot encode mixed or invalid key types', 0) end
      count = count + 1
    end
    for i = 1, count do
      if t[i] == nil then error('json: cannot encode sparse array', 0) end
      parts[i] = encode(t[i], seen)
    end
    return '[' .. table.concat(parts, ',') .. ']'
  end
  for k, v in pairs(t) do
    if type(k) ~= 'string' then error('json: cannot encode mixed or invalid key types', 0) end
    parts[#parts + 1] = cjson.encode(k) .. ':' .. encode(v, seen)
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

encode = function(v, seen)
  local ty = type(v)
  if v == nil then return 'null' end
  if ty == 'boolean' then return v and 'true' or 'false' end
  if ty == 'number' then return encode_number(v) end
  if ty == 'string' then return cjson.encode(v) end
  if ty == 'table' then return encode_table(v, seen) end
  error('json: cannot encode a ' .. ty, 0)
end

-- ---- the environment a script runs in ----

local BASE = {
  'assert', 'error', 'getmetatable', 'ipairs', 'next', 'pairs', 'pcall', 'rawequal', 'rawget',
  'rawset', 'select', 'setmetatable', 'tonumber', 'tostring', 'type', 'unpack', 'xpcall',
  'loadstring', '_VERSION',
}

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

local function safe_os(now)
  return {
    time = function(t)
      if t == nil then return now end
      return os.time(t)
    end,
    date = function(fmt, t)
      return os.date(fmt or '%c', t or now)
    end,
  }
end

local function environment(kind, now, obj)
  local env = {}
  for _, name in ipairs(BASE) do env[name] = _G[name] end
  env.print = function(...)
    local parts = {}
    for i = 1, select('#', ...) do parts[i] = tostring((select(i, ...))) end
    io.stderr:write(table.concat(parts, '\t'), '\n')
  end
  env._G = env
  env.table = copy(table)
  env.os = safe_os(now)
  local modules = { table = env.table }
  if kind == 'health' then
    -- all standard libraries; Argo CD merges its os.time/os.date into the full os library
    local full_os = copy(os)
    for name, fn in pairs(env.os) do full_os[name] = fn end
    env.os = full_os
    env.string, env.math, env.coroutine, env.io = copy(string), copy(math), copy(coroutine), copy(io)
    modules.string, modules.math, modules.coroutine, modules.io = env.string, env.math, env.coroutine, env.io
  end
  modules.os = env.os
  env.package = { loaded = modules }
  env.require = function(name)
    local m = modules[name]
    if m == nil then error("module '" .. tostring(name) .. "' not found", 2) end
    return m
  end
  env.obj = obj
  env.actionParams = {}
  return env
end

-- ---- running the cases ----

local function pack(...)
  return select('#', ...), { ... }
end

local function run(chunk, kind, now, obj)
  setfenv(chunk, environment(kind, now, from_json(obj)))
  debug.sethook(function() error('script stopped: it ran too long', 0) end, '', MAX_INSTRUCTIONS)
  local n, results = pack(pcall(chunk))
  debug.sethook()
  if not results[1] then error(tostring(results[2]), 0) end
  -- the value on top of the stack, as Argo CD reads it (nil when the script returns nothing)
  if n < 2 then return nil end
  return results[n]
end

local ok_input, input = pcall(cjson.decode, io.read('*a'))
if not ok_input or type(input) ~= 'table' or type(input.cases) ~= 'table' then
  io.stderr:write('argocd-lua-driver: stdin is not {"scripts": {...}, "cases": [...]}\n')
  os.exit(2)
end

local function read_file(path)
  local f, err = io.open(path, 'rb')
  if not f then return nil, err end
  local text = f:read('*a')
  f:close()
  return text
end

-- each script is compiled once per batch, named by its id in error messages
local chunks = {}
for id, path in pairs(input.scripts or {}) do
  local text, err = read_file(path)
  local chunk
  if text then chunk, err = loadstring(text, '=' .. id) end
  if not chunk then
    io.stderr:write('argocd-lua-driver: cannot load ' .. tostring(path) .. ': ' .. tostring(err) .. '\n')
    os.exit(2)
  end
  chunks[id] = chunk
end

local out = {}
for i, c in ipairs(input.cases) do
  local chunk = chunks[c.script]
  local ok, value = pcall(function()
    if chunk == nil then error('unknown script ' .. tostring(c.script), 0) end
    local now = tonumber(c.now) or os.time()
    return encode(run(chunk, c.kind, now, c.obj), {})
  end)
  if ok then
    out[i] = '{"ok":true,"value":' .. value .. '}'
  else
    out[i] = '{"ok":false,"error":' .. cjson.encode(tostring(value)) .. '}'
  end
end
io.write('[', table.concat(out, ','), ']\n')
