-- Give a side to a connection: join (join token) or resume (resume token)
-- (signaling/redis_store.py: RedisStore.take).
-- KEYS[1]  the session hash
-- KEYS[2]  this side's mailbox (list of texts with seq acked+1 .. out)
-- KEYS[3]  the peer's mailbox
-- KEYS[4]  the deadlines sorted set (member "<session>|<side>", score = deadline)
-- ARGV[1]  side             ARGV[2]  peer side
-- ARGV[3]  connection id    ARGV[4]  token hash (join or resume token)
-- ARGV[5]  "1" resume, "0" join
-- ARGV[6]  new resume-token hash (join only)
-- ARGV[7]  last seq the page processed (resume only; clamped to the last one sent)
-- ARGV[8]  peer-joined body (JSON without the opening brace and seq)
-- ARGV[9]  idle time to live, seconds
-- ARGV[10] session id
-- KEYS[5]  the sides held by the taking process (a set of "<session>|<side>|<conn>"):
--          when that process dies, the others mark them away (node liveness)
-- ARGV[11] idle time to live of that set, seconds
-- Returns {outcome, last_in, peer_state, previous_conn, notice_seq (0: none), notice_text,
--          reason, ended_by, first_pending_seq, pending texts...}
-- The page is taken to hold every seq before first_pending_seq. A join token opens the
-- side once (side:used; afterwards only the resume token, or a fresh join token armed for
-- the officer, opens it), so a replayed token cannot push her page out; it still proves
-- the side for her place in line and the ICE servers.
-- outcome: "taken", "ended" (nothing changed) or "invalid".
local side, peer = ARGV[1], ARGV[2]
local resume = ARGV[5] == '1'
local s = redis.call('HMGET', KEYS[1], 'status', side .. (resume and ':resume' or ':token'),
  side .. ':in', side .. ':acked', side .. ':out', side .. ':conn', peer .. ':state',
  'reason', 'ended_by', side .. ':used')
if not s[1] or s[2] == '' or s[2] ~= ARGV[4] then
  return {'invalid'}
end
if not resume and s[10] == '1' and s[1] == 'open' then
  return {'invalid'}
end
local acked, out = tonumber(s[4]), tonumber(s[5])
local after = 0
if resume then after = math.min(tonumber(ARGV[7]), out) end
local function with_pending(reply)
  local from = math.max(after, acked)
  reply[#reply + 1] = from + 1
  for _, text in ipairs(redis.call('LRANGE', KEYS[2], from - acked, -1)) do
    reply[#reply + 1] = text
  end
  return reply
end
if s[1] ~= 'open' then
  return with_pending({'ended', s[3], '', '', 0, '', s[8], s[9]})
end
if resume then
  if after > acked then
    redis.call('LTRIM', KEYS[2], after - acked, -1)
    redis.call('HSET', KEYS[1], side .. ':acked', after)
    acked = after
  end
else
  redis.call('HSET', KEYS[1], side .. ':resume', ARGV[6], side .. ':used', '1')
end
redis.call('HSET', KEYS[1], side .. ':conn', ARGV[3], side .. ':state', 'connected',
  side .. ':deadline', 0)
redis.call('ZREM', KEYS[4], ARGV[10] .. '|' .. side)
redis.call('SADD', KEYS[5], ARGV[10] .. '|' .. side .. '|' .. ARGV[3])
redis.call('EXPIRE', KEYS[5], ARGV[11])
local notice_seq, notice = 0, ''
if s[7] ~= 'not_joined' then  -- a side that never joined learns the state from its joined
  notice_seq = redis.call('HINCRBY', KEYS[1], peer .. ':out', 1)
  notice = '{"seq":' .. notice_seq .. ',' .. ARGV[8]
  redis.call('RPUSH', KEYS[3], notice)
end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[9]) end
return with_pending({'taken', s[3], s[7], s[6], notice_seq, notice, '', ''})
