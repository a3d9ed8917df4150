-- wrk script for `stormwatch bench-http` and `stormwatch bench --against alertmanager`: POST the file named by
-- $BODY (with $BODIES set: one JSON body per line, posted in turn), with a bearer token when $TOKEN is set.
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
local bodies = {}
if os.getenv("BODIES") then
  for line in f:lines() do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
else
  wrk.body = f:read("*a")
end
f:close()
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

if #bodies > 0 then
  local n = 0
  request = function()
    n = n % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[n])
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("socket errors: %d\n", e.connect + e.read + e.write + e.timeout))
end
