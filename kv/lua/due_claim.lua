-- Claim due timers of one shard, of the caller's kinds only: each due timer goes to one caller at a time.
-- KEYS[1] the shard's claims hash ("<kind>:<timer key>" -> attempt); KEYS[2..] one sorted set per kind (timer key ->
-- due time), all of one shard, so one Cluster slot
-- ARGV[1] now; ARGV[2] lease seconds; ARGV[3] limit per kind; ARGV[4..] the kinds, in the order of KEYS[2..]
-- A claimed timer's score becomes now + lease: if its caller dies before completing it, it falls due again then.
-- Its attempt is the lease of the first claim not completed yet: a claim after a lease ran out keeps it, so the next
-- caller can find what the dead one wrote under it (due_complete.lua ends the attempt).
-- Returns {the claimed score, {key, attempt, key, attempt, ... claimed from KEYS[2]}, {... from KEYS[3]}, ...}
local limit = tonumber(ARGV[3])
local lease = tostring(tonumber(ARGV[1]) + tonumber(ARGV[2]))
local out = {lease}
for i = 2, #KEYS do
  local key = KEYS[i]
  local prefix = ARGV[i + 2] .. ':'
  local due = redis.call('ZRANGEBYSCORE', key, '-inf', ARGV[1], 'LIMIT', 0, limit)
  local pairs_ = {}
  for _, member in ipairs(due) do
    redis.call('ZADD', key, lease, member)
    local attempt = redis.call('HGET', KEYS[1], prefix .. member)
    if not attempt then
      attempt = lease
      redis.call('HSET', KEYS[1], prefix .. member, attempt)
    end
    pairs_[#pairs_ + 1] = member
    pairs_[#pairs_ + 1] = attempt
  end
  out[i] = pairs_
end
return out
