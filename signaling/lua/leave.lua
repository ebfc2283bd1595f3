-- A connection closed: if it held its side, the side is away until a deadline
-- (signaling/redis_store.py: RedisStore.leave).
-- KEYS[1]  the session hash
-- KEYS[2]  the peer's mailbox
-- KEYS[3]  the deadlines sorted set (member "<session>|<side>", score = deadline)
-- ARGV[1]  side             ARGV[2]  peer side
-- ARGV[3]  connection id    ARGV[4]  deadline (unix seconds)
-- ARGV[5]  peer-left body (JSON without the opening brace and seq)
-- ARGV[6]  session id       ARGV[7]  idle time to live, seconds
-- KEYS[4]  the sides held by the connection's process (it no longer holds this one)
-- Returns {seq, text} of peer-left, or {} when the connection no longer held the side
-- or the peer never joined.
local side, peer = ARGV[1], ARGV[2]
local s = redis.call('HMGET', KEYS[1], 'status', side .. ':conn', peer .. ':state')
redis.call('SREM', KEYS[4], ARGV[6] .. '|' .. side .. '|' .. ARGV[3])
if s[1] ~= 'open' or s[2] ~= ARGV[3] then return {} end
redis.call('HSET', KEYS[1], side .. ':conn', '', side .. ':state', 'away',
  side .. ':deadline', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[6] .. '|' .. side)
redis.call('EXPIRE', KEYS[1], ARGV[7])
if s[3] == 'not_joined' then return {} end  -- peer notices go only to pages that joined
local out = redis.call('HINCRBY', KEYS[1], peer .. ':out', 1)
local text = '{"seq":' .. out .. ',' .. ARGV[5]
redis.call('RPUSH', KEYS[2], text)
redis.call('EXPIRE', KEYS[2], ARGV[7])
return {out, text}
