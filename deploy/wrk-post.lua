-- wrk script for `stormwatch bench-http`: POST the file named by $BODY, with a bearer token when $TOKEN is set.
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("socket errors: %d\n", e.connect + e.read + e.write + e.timeout))
end
