-- Move timers an older version wrote into the due index. Each one still in the old sorted set is added with its
-- current score and removed from the old set in the same step, so it moves exactly once however many callers race.
-- A timer already in the index (scheduled since by a new worker) keeps its due time there (NX).
-- An old set with a claims hash (member -> attempt of a claim not completed) hands each moving member's attempt to
-- the index's claims hash (unless the index has one already), so a timer claimed by a worker of the older version
-- that died keeps its attempt: the next claimer finds that worker's write. The old hash goes with the set's last member.
-- KEYS[1] the old sorted set; KEYS[2] its claims hash; KEYS[3] the index's claims hash; KEYS[4..] the index's sorted
-- sets of the same slot
-- ARGV[1] "1" if the old set has a claims hash (else KEYS[2] is never read); then quadruples (old member, index
-- into KEYS, timer key in the index, its field in the index's claims hash)
-- Returns how many moved.
local claims = ARGV[1] == '1'
local moved = 0
for i = 2, #ARGV, 4 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score then
    redis.call('ZADD', KEYS[tonumber(ARGV[i + 1])], 'NX', score, ARGV[i + 2])
    redis.call('ZREM', KEYS[1], ARGV[i])
    if claims then
      local attempt = redis.call('HGET', KEYS[2], ARGV[i])
      if attempt then
        redis.call('HSETNX', KEYS[3], ARGV[i + 3], attempt)
        redis.call('HDEL', KEYS[2], ARGV[i])
      end
    end
    moved = moved + 1
  end
end
if claims and redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])  -- what is left names no timer: a claim's attempt lives only while its member does
end
return moved
