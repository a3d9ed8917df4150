-- Move timers an older version wrote into the due index. Each one still in the old sorted set is added with its
-- current score and removed from the old set in the same step, so it moves exactly once however many callers race.
-- A timer already in the index (scheduled since by a new worker) keeps its due time there (NX).
-- KEYS[1] the old sorted set; KEYS[2..] the index's sorted sets of the same slot
-- ARGV: triples (old member, index into KEYS, timer key in the index)
-- Returns how many moved.
local moved = 0
for i = 1, #ARGV, 3 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score then
    redis.call('ZADD', KEYS[tonumber(ARGV[i + 1])], 'NX', score, ARGV[i + 2])
    redis.call('ZREM', KEYS[1], ARGV[i])
    moved = moved + 1
  end
end
return moved
