-- Record one alert in one cause key of the shared cause index, unless a newer record of it is already there.
-- KEYS[1] cause hash (fingerprint -> "stamp|incident[|stopped]"); ARGV[1] fingerprint; ARGV[2] stamp (the alert's
-- revision, which only grows); ARGV[3] incident ("" when the alert no longer explains anything), followed by
-- "|<when it stopped>" for a source that stopped (it explains for its rules' recovery grace; causes.Entry); ARGV[4] TTL
-- Updates of one alert can reach here out of order from different workers: the stamp keeps the newest.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local stamp = tonumber(string.match(current, '^(%d+)|'))
  if stamp and stamp >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
