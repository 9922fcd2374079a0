-- wrk script of `make bench`: cycle through the requests listed in a file, count failures, and
-- print one machine-readable summary line.
--
--   BENCH_REQUESTS=plan.tsv wrk -t2 -c8 -d10s -s bench/lua/requests.lua http://127.0.0.1:PORT
--
-- Each line of the file is one request, fields separated by tabs:
--   METHOD <tab> PATH <tab> BODY (or -) [<tab> Header-Name: value]...
-- Thread n (of BENCH_THREADS) takes lines n, n + threads, …, so threads never share a line: a
-- vote and its withdrawal (listed as all the votes, then all the withdrawals) stay in order.
-- Any answer outside 2xx/3xx is a failure; the first one's status and body are reported.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local function split(line, sep)
   local fields = {}
   for field in (line .. sep):gmatch("(.-)" .. sep) do
      table.insert(fields, field)
   end
   return fields
end

function init(args)
   local path = os.getenv("BENCH_REQUESTS")
   local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
   local lines = {}
   for line in io.lines(path) do
      if line ~= "" then
         table.insert(lines, line)
      end
   end
   requests = {}
   for i, line in ipairs(lines) do
      if (i - 1) % nthreads == tid or #lines < nthreads then
         local f = split(line, "\t")
         local headers = {}
         for k = 4, #f do
            local name, value = f[k]:match("^([^:]+):%s*(.*)$")
            if name then
               headers[name] = value
            end
         end
         local body = nil
         if f[3] ~= "-" and f[3] ~= "" then
            body = f[3]
         end
         table.insert(requests, wrk.format(f[1], f[2], headers, body))
      end
   end
   index = 0
   failed = 0
   first_failure = ""
end

function request()
   index = index % #requests + 1
   return requests[index]
end

function response(status, headers, body)
   if status < 200 or status >= 400 then
      failed = failed + 1
      if first_failure == "" then
         first_failure = tostring(status) .. " " .. string.sub(body or "", 1, 300)
      end
   end
end

local function quote(s)
   s = string.gsub(s, "\\", "\\\\")
   s = string.gsub(s, '"', '\\"')
   s = string.gsub(s, "[%c]", " ")
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local bad, first = 0, ""
   for _, thread in ipairs(threads) do
      bad = bad + (thread:get("failed") or 0)
      local f = thread:get("first_failure") or ""
      if first == "" and f ~= "" then
         first = f
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, ' ..
      '"failed_status": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
      '"timeouts": %d, "first_failure": %s}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(95),
      latency:percentile(99), latency.max, latency.mean,
      bad, e.connect, e.read, e.write, e.timeout, quote(first)))
end
