-- End a session: on hang-up, when the server closes it, or as dropped when a side
-- stayed away past its deadline (signaling/redis_store.py: RedisStore.end, .expire).
-- KEYS[1]  the session hash
-- KEYS[2]  the citizen's mailbox
-- KEYS[3]  the officer's mailbox
-- KEYS[4]  the deadlines sorted set (member "<session>|<side>", score = deadline)
-- ARGV[1]  reason ("hangup", "closed", "dropped")
-- ARGV[2]  side who hung up or dropped ("" for none)
-- ARGV[3]  session id
-- ARGV[4]  time to live once ended, seconds
-- ARGV[5]  now (unix seconds); only for "dropped": the side must still be away
--          with its deadline passed
-- Returns 1 when this call ended the session, 0 otherwise.
local s = redis.call('HMGET', KEYS[1], 'status', ARGV[2] .. ':state', ARGV[2] .. ':deadline')
if ARGV[1] == 'dropped' then
  if s[1] ~= 'open' or s[2] ~= 'away' then
    redis.call('ZREM', KEYS[4], ARGV[3] .. '|' .. ARGV[2])
    return 0
  end
  if tonumber(s[3]) > tonumber(ARGV[5]) then return 0 end
elseif s[1] ~= 'open' then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'ended', 'reason', ARGV[1], 'ended_by', ARGV[2],
  'citizen:conn', '', 'officer:conn', '')
redis.call('ZREM', KEYS[4], ARGV[3] .. '|citizen', ARGV[3] .. '|officer')
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
return 1
