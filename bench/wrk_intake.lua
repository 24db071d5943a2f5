-- wrk script for bench/intake.py: every request is a new, valid submission.
--
--   wrk -t T -c C -d D -s bench/wrk_intake.lua URL -- TOKENS ANSWERS SLUG PREFIX OUTDIR T MODE
--
-- TOKENS  file with one personal link token per line (distinct alumni); thread k of T
--         uses lines k+1, k+1+T, k+1+2T, ... so no two requests share an alumnus.
-- ANSWERS file with one answers JSON object per line (cycled).
-- SLUG    the wave slug.
-- PREFIX  8 hex digits, new for every run: ids are PREFIX-<thread>-4000-8000-<counter>,
--         unique by construction across threads and runs.
-- OUTDIR  each thread appends the id of every 200/201 response to OUTDIR/ids-<k>.txt
--         and writes its first other response (status and body) to OUTDIR/error-<k>.txt.
-- T       the thread count (same as -t).
-- MODE    "once": each token is used once (the intake). When a thread runs out of tokens it
--         sends a request with an invalid token (404, stored nowhere), stops itself and
--         reports `exhausted`; bench/intake.py then says so. "cycle": tokens are reused
--         and responses are not parsed (the bare endpoint, which stores nothing); wrk's
--         status-error count (status > 399) then tells the refusals.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local function read_lines(path)
   local lines = {}
   for line in io.lines(path) do
      if #line > 0 then
         lines[#lines + 1] = line
      end
   end
   return lines
end

function init(args)
   local nthreads = tonumber(args[6])
   tokens = {}
   local all = read_lines(args[1])
   for i = tid + 1, #all, nthreads do
      tokens[#tokens + 1] = all[i]
   end
   answers = read_lines(args[2])
   slug = args[3]
   cycle = args[7] == "cycle"
   if cycle then
      -- Nothing to account for: let wrk skip parsing headers and bodies, so the load
      -- generator takes as little CPU from the server as it can.
      response = nil
   end
   prefix = args[4]
   outdir = args[5]
   ids_file = io.open(outdir .. "/ids-" .. tid .. ".txt", "w")
   ids_file:setvbuf("line")
   used = 0
   exhausted = 0
   n200 = 0
   n201 = 0
   nother = 0
   headers = { ["Content-Type"] = "application/json" }
end

function request()
   used = used + 1
   local token = tokens[cycle and ((used - 1) % #tokens) + 1 or used]
   if token == nil then
      exhausted = 1
      token = "exhausted"
      wrk.thread:stop()
   end
   local id = string.format("%s-%04x-4000-8000-%012x", prefix, tid, used)
   local body = '{"id":"' .. id .. '","wave":"' .. slug .. '","token":"' .. token
      .. '","answers":' .. answers[(used % #answers) + 1] .. ',"complete":true}'
   return wrk.format("POST", nil, headers, body)
end

function response(status, _, body)
   if status == 201 or status == 200 then
      if status == 201 then n201 = n201 + 1 else n200 = n200 + 1 end
      local id = string.match(body, '"id"%s*:%s*"([0-9a-fA-F%-]+)"')
      ids_file:write(id or "?", "\n")
   else
      nother = nother + 1
      if nother == 1 then  -- keep the first refusal for the report
         local f = io.open(outdir .. "/error-" .. tid .. ".txt", "w")
         f:write(status, " ", string.sub(body or "", 1, 500), "\n")
         f:close()
      end
   end
end

function done(summary, latency, _)
   local parts = {}
   for _, thread in ipairs(threads) do
      parts[#parts + 1] = string.format(
         '{"tid":%d,"used":%d,"n200":%d,"n201":%d,"other":%d,"exhausted":%d}',
         thread:get("tid"), thread:get("used"), thread:get("n200"), thread:get("n201"),
         thread:get("nother"), thread:get("exhausted"))
   end
   local e = summary.errors
   io.write(string.format(
      'JEJAK_RESULT {"duration_us":%d,"requests":%d,"connect_errors":%d,"read_errors":%d,'
      .. '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,'
      .. '"p99_us":%d,"max_us":%d,"mean_us":%.1f,"threads":[%s]}\n',
      summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      latency.mean, table.concat(parts, ",")))
end
