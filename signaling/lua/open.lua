-- Create a signaling session (signaling/redis_store.py: RedisStore.open).
-- KEYS[1]  the session hash
-- ARGV[1]  citizen join-token hash
-- ARGV[2]  officer join-token hash
-- ARGV[3]  officer id the session is bound to ("" for any officer)
-- ARGV[4]  idle time to live, seconds
-- ARGV[5]  the citizen must join by this time (unix seconds; 0: no deadline)
-- ARGV[6]  session id
-- KEYS[2]  the deadlines sorted set (member "<session>|<side>", score = deadline)
-- Returns 1 when created, 0 when the session id is already taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1],
  'status', 'open', 'reason', '', 'ended_by', '', 'officer_id', ARGV[3],
  'citizen:token', ARGV[1], 'citizen:resume', '', 'citizen:conn', '',
  'citizen:state', 'not_joined', 'citizen:deadline', ARGV[5],
  'citizen:in', 0, 'citizen:out', 0, 'citizen:acked', 0,
  'officer:token', ARGV[2], 'officer:resume', '', 'officer:conn', '',
  'officer:state', 'not_joined', 'officer:deadline', 0,
  'officer:in', 0, 'officer:out', 0, 'officer:acked', 0)
redis.call('EXPIRE', KEYS[1], ARGV[4])
if tonumber(ARGV[5]) > 0 then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6] .. '|citizen')
end
return 1
