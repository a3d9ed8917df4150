-- Complete claimed timers of one shard: each is removed only if its score is still the one it was claimed with.
-- A timer scheduled again between the claim and the completion keeps its new due time (the reschedule wins).
-- KEYS: sorted sets of one shard (one Cluster slot); ARGV: triples (index into KEYS, timer key, claimed score)
-- Returns how many were removed.
local removed = 0
for i = 1, #ARGV, 3 do
  local key = KEYS[tonumber(ARGV[i])]
  local score = redis.call('ZSCORE', key, ARGV[i + 1])
  if score and tonumber(score) == tonumber(ARGV[i + 2]) then
    removed = removed + redis.call('ZREM', key, ARGV[i + 1])
  end
end
return removed
