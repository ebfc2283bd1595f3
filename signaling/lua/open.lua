-- Create a signaling session (signaling/redis_store.py: RedisStore.open).
-- KEYS[1]  the session hash
-- ARGV[1]  citizen join-token hash
-- ARGV[2]  officer join-token hash
-- ARGV[3]  officer id the session is bound to ("" for any officer)
-- ARGV[4]  idle time to live, seconds
-- Returns 1 when created, 0 when the session id is already taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1],
  'status', 'open', 'reason', '', 'ended_by', '', 'officer_id', ARGV[3],
  'citizen:token', ARGV[1], 'citizen:resume', '', 'citizen:conn', '',
  'citizen:state', 'not_joined', 'citizen:deadline', 0,
  'citizen:in', 0, 'citizen:out', 0, 'citizen:acked', 0,
  'officer:token', ARGV[2], 'officer:resume', '', 'officer:conn', '',
  'officer:state', 'not_joined', 'officer:deadline', 0,
  'officer:in', 0, 'officer:out', 0, 'officer:acked', 0)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
