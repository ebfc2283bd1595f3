-- End a session: on hang-up, when the server closes it, or as dropped when a side
-- stayed away past its deadline (signaling/redis_store.py: RedisStore.end, .expire).
-- KEYS[1]  the session hash
-- KEYS[2]  the citizen's mailbox
-- KEYS[3]  the officer's mailbox
-- KEYS[4]  the deadlines sorted set (member "<session>|<side>", score = deadline)
-- ARGV[1]  reason ("hangup", "closed", or "expire": the side's deadline passed, and it
--          ends as "dropped" when the side was away, "never_joined" when it never came)
-- ARGV[2]  side who hung up or dropped ("" for none)
-- ARGV[3]  session id
-- ARGV[4]  time to live once ended, seconds
-- ARGV[5]  now (unix seconds); only for "expire": the side must still be away (or not
--          joined) with its deadline passed
-- Returns the reason it ended with when this call ended the session, '' otherwise.
local s = redis.call('HMGET', KEYS[1], 'status', ARGV[2] .. ':state', ARGV[2] .. ':deadline')
local reason = ARGV[1]
if reason == 'expire' then
  local deadline = tonumber(s[3]) or 0
  if s[1] ~= 'open' or (s[2] ~= 'away' and s[2] ~= 'not_joined') or deadline == 0 then
    redis.call('ZREM', KEYS[4], ARGV[3] .. '|' .. ARGV[2])
    return ''
  end
  if deadline > tonumber(ARGV[5]) then return '' end
  reason = s[2] == 'away' and 'dropped' or 'never_joined'
elseif s[1] ~= 'open' then
  return ''
end
redis.call('HSET', KEYS[1], 'status', 'ended', 'reason', reason, 'ended_by', ARGV[2],
  'citizen:conn', '', 'officer:conn', '')
redis.call('ZREM', KEYS[4], ARGV[3] .. '|citizen', ARGV[3] .. '|officer')
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
return reason
