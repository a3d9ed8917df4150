-- Complete claimed timers of one shard: each one's attempt ends (a later claim is a new attempt), and it is removed
-- only if its score is still the one it was claimed with: a timer scheduled again between the claim and the
-- completion keeps its new due time (the reschedule wins).
-- KEYS[1] the shard's claims hash; KEYS[2..] sorted sets of the same shard (one Cluster slot)
-- ARGV: quintuples (index into KEYS, timer key, claimed score, its field in KEYS[1], attempt); an empty attempt ends
-- none (a member of an older layout's set, which has no claims hash: KEYS[1] is then that set itself, never read)
-- Returns how many were removed.
local removed = 0
for i = 1, #ARGV, 5 do
  if ARGV[i + 4] ~= '' and redis.call('HGET', KEYS[1], ARGV[i + 3]) == ARGV[i + 4] then
    redis.call('HDEL', KEYS[1], ARGV[i + 3])
  end
  local key = KEYS[tonumber(ARGV[i])]
  local score = redis.call('ZSCORE', key, ARGV[i + 1])
  if score and tonumber(score) == tonumber(ARGV[i + 2]) then
    removed = removed + redis.call('ZREM', key, ARGV[i + 1])
  end
end
return removed
