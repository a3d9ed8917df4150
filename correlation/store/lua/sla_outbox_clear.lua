-- Clear an incident's SLA outbox once its events are published, only if it still holds what was published (a
-- crossing written meanwhile stays for its own publisher). No version bump: the engine never reads the field.
-- KEYS[1] incident hash; ARGV[1] the outbox as read (JSON). Returns 1 if cleared, 0 otherwise.
if redis.call('HGET', KEYS[1], 'sla_outbox') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'sla_outbox')
  return 1
end
return 0
