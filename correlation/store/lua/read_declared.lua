-- The open incident people declared for a service (issue 21), for alerts whose group rule joins declared incidents.
-- KEYS[1] the service's declared group hash (declared, inc); KEYS[2] its incident key prefix (<ns>:{g<gid>}:i:)
-- Returns the incident id when the group is a declared one and its current incident is open or acknowledged, else ''.
if redis.call('HGET', KEYS[1], 'declared') ~= '1' then
  return ''
end
local current = redis.call('HGET', KEYS[1], 'inc')
if not current then
  return ''
end
local status = redis.call('HGET', KEYS[2] .. string.match(current, '%-(%d+)$'), 'status')
if status == 'open' or status == 'acknowledged' then
  return current
end
return ''
