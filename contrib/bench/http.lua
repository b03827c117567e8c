-- quire: durable document ingestion and search on one Unix box. ISC license.
--
-- The wrk(1) script of contrib/bench/http: what each connection sends,
-- and one line of figures at the end.  Arguments after wrk's "--":
--
--	search QUERIES T	GET /v1/search?q=Q&n=10, Q in turn from the
--				file QUERIES (one query a line), each of the
--				T threads (wrk -t) starting at its own place
--	submit QUERIES T	POST /v1/documents?id=..., a small text/plain
--				body made of a few of the queries' words
--	mix QUERIES T LIMIT DIR	/healthz, a search and /v1/status in turn;
--				each thread stops after LIMIT / T responses
--				and makes the file DIR/stopped.N (N: 1 to
--				T); wrk itself runs on until its -d or a
--				SIGINT, which the caller sends once all T
--				files are there
--
-- done() prints, on a line of its own:
--
--	wrk REQUESTS RPS P50_MS P99_MS SECONDS STATUS_ERRORS SOCKET_ERRORS
--
-- STATUS_ERRORS are the responses outside 2xx and 3xx; SOCKET_ERRORS
-- the connects, reads, writes and timeouts that failed.

-- setup() runs in wrk's main Lua state, before each thread's init().
local started = 0

function setup(thread)
	started = started + 1
	thread:set("tid", started)
end

-- Percent-encode all but the unreserved characters of RFC 3986.
local function urlencode(s)
	return (s:gsub("[^%w%-%._~]", function(c)
		return string.format("%%%02X", string.byte(c))
	end))
end

local mode, queries, words, nthreads, limit, stopdir
local n, seen = 0, 0

function init(args)
	mode = args[1]
	local path = args[2]
	nthreads = tonumber(args[3])
	if path == nil or nthreads == nil or (mode ~= "search" and
	    mode ~= "submit" and (mode ~= "mix" or args[5] == nil)) then
		error("usage: -- search|submit|mix QUERIES THREADS " ..
		    "[LIMIT DIR]")
	end
	queries, words = {}, {}
	for line in io.lines(path) do
		if line ~= "" then
			table.insert(queries, urlencode(line))
			for w in line:gmatch("%w+") do
				if #w > 2 and w ~= "OR" then
					table.insert(words, w)
				end
			end
		end
	end
	if #queries == 0 or #words == 0 then
		error(path .. ": no queries")
	end
	n = (tid - 1) * math.floor(#queries / nthreads)
	if mode == "mix" then
		limit = math.ceil(tonumber(args[4]) / nthreads)
		stopdir = args[5]
	else
		response = nil	-- else wrk parses every body for it
	end
end

local function search_path(i)
	return "/v1/search?n=10&q=" .. queries[i % #queries + 1]
end

local function submit_body(i)
	local t = {}
	for k = 0, 7 do
		t[#t + 1] = words[(i * 8 + k) % #words + 1]
	end
	return "wrk submit " .. tid .. " " .. i .. ": " ..
	    table.concat(t, " ") .. "\n"
end

function request()
	n = n + 1
	if mode == "search" then
		return wrk.format("GET", search_path(n))
	elseif mode == "submit" then
		return wrk.format("POST", "/v1/documents?id=wrk-" .. tid ..
		    "-" .. n, { ["Content-Type"] = "text/plain" },
		    submit_body(n))
	elseif n % 3 == 0 then
		return wrk.format("GET", "/healthz")
	elseif n % 3 == 1 then
		return wrk.format("GET", search_path(n))
	end
	return wrk.format("GET", "/v1/status")
end

function response(status, headers, body)
	seen = seen + 1
	if seen == limit then
		wrk.thread:stop()
		local f = assert(io.open(stopdir .. "/stopped." .. tid, "w"))
		f:close()
	end
end

function done(summary, latency, requests)
	local s = summary.duration / 1e6
	local e = summary.errors
	io.write(string.format("wrk %d %.1f %.3f %.3f %.2f %d %d\n",
	    summary.requests, summary.requests / s,
	    latency:percentile(50) / 1000, latency:percentile(99) / 1000, s,
	    e.status, e.connect + e.read + e.write + e.timeout))
end
