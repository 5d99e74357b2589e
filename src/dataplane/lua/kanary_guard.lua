-- Keeps nginx from outliving the `kanary ingress` that started it, however that process ends
-- (SIGKILL included). `kanary ingress` puts its pid in KANARY_INGRESS_PID (src/dataplane/parent-death.ts);
-- without it (`nginx -t`, or nginx started by hand on this configuration) nothing here acts.
--
-- The master asks the kernel for SIGTERM (nginx's fast shutdown, which stops the workers too) when
-- its parent exits, as `setpriv --pdeathsig TERM` already does when kanary found setpriv; and it
-- refuses to start when that parent is already gone. Workers cannot signal a master that runs as
-- root (they run as nobody), so they watch for what the master cannot do itself: once their master
-- is gone (it was SIGKILLed), they stop too instead of keeping the ports.

local ffi = require("ffi")

ffi.cdef([[
int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5);
int getppid(void);
int getpid(void);
int kill(int pid, int sig);
]])

local PR_SET_PDEATHSIG = 1
local SIGTERM = 15
local CHECK_INTERVAL = 1 -- seconds

local M = {}

local function kanary_pid()
  return tonumber(os.getenv("KANARY_INGRESS_PID") or "")
end

-- Field 22 of /proc/<pid>/stat (start time), nil when there is no such process: a pid, once reused,
-- has another start time.
local function start_time(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if not f then
    return nil
  end
  local stat = f:read("*a")
  f:close()
  -- the command name may contain spaces and parentheses: count from the last ')'
  local rest = stat and stat:match(".*%)%s(.*)")
  if not rest then
    return nil
  end
  local fields = {}
  for field in rest:gmatch("%S+") do
    fields[#fields + 1] = field
  end
  if fields[1] == "Z" or fields[1] == "X" then
    return nil -- exited, not yet reaped
  end
  return fields[20]
end

-- init_by_lua: runs in the master, at start and at every reload.
function M.master()
  local pid = kanary_pid()
  if not pid then
    return
  end
  -- Linux only (as is Kanary): elsewhere the symbol is missing, and only the check below remains
  local ok = pcall(ffi.C.prctl, PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0)
  if not ok then
    ngx.log(ngx.WARN, "kanary: prctl(PR_SET_PDEATHSIG) is not available here")
  end
  -- checked after the prctl: a parent that exits from now on sends the signal
  local parent = ffi.C.getppid()
  if parent ~= pid then
    error("kanary ingress (pid " .. pid .. ") that started this nginx is gone (parent is now "
      .. parent .. "): not serving without it")
  end
end

-- init_worker_by_lua: a timer in every worker.
function M.worker()
  local pid = kanary_pid()
  if not pid then
    return
  end
  local master = ffi.C.getppid()
  local kanary_started = start_time(pid)
  local told = false
  local function check(premature)
    if premature then
      return -- this worker is exiting (reload or stop)
    end
    if ffi.C.getppid() ~= master then
      ngx.log(ngx.ALERT, "kanary: the nginx master (pid ", master, ") is gone; this worker stops")
      ffi.C.kill(ffi.C.getpid(), SIGTERM)
    elseif not told and (kanary_started == nil or start_time(pid) ~= kanary_started) then
      -- the master's parent-death signal should have stopped it; ask it once more (this works when
      -- nginx runs unprivileged, as the same user as its workers)
      told = true
      local ok = ffi.C.kill(master, SIGTERM) == 0
      ngx.log(ngx.ALERT, "kanary: kanary ingress (pid ", pid, ") is gone; ",
        ok and "stopping nginx" or "could not signal the nginx master (pid " .. master .. ")")
    end
  end
  local ok, err = ngx.timer.every(CHECK_INTERVAL, check)
  if not ok then
    ngx.log(ngx.ERR, "kanary: cannot watch for the end of kanary ingress: ", err)
  end
end

return M
