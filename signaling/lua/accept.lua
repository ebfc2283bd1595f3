-- Take one message from a side and put it in the peer's mailbox; publish it on the
-- bus too when asked (signaling/redis_store.py: RedisStore.accept).
-- KEYS[1]  the session hash
-- KEYS[2]  this side's mailbox (only its time to live is refreshed)
-- KEYS[3]  the peer's mailbox
-- ARGV[1]  side             ARGV[2]  peer side
-- ARGV[3]  connection id    ARGV[4]  the page's seq for this message
-- ARGV[5]  relayed body (JSON without the opening brace and seq)
-- ARGV[6]  most messages a mailbox may hold
-- ARGV[7]  idle time to live, seconds
-- ARGV[8]  bus channel to publish "deliver" on ("" for none)
-- ARGV[9]  the bus message up to its seq (signaling/bus.py: DeliverNotice)
-- Returns {"accepted", seq, text} or {outcome} for "ended", "not_current",
-- "duplicate", "out_of_order", "backlog_full".
local side, peer = ARGV[1], ARGV[2]
local s = redis.call('HMGET', KEYS[1], 'status', side .. ':conn', side .. ':in',
  peer .. ':out', peer .. ':acked')
if s[1] ~= 'open' then return {'ended'} end
if s[2] ~= ARGV[3] then return {'not_current'} end
local seq, last_in = tonumber(ARGV[4]), tonumber(s[3])
if seq <= last_in then return {'duplicate'} end
if seq ~= last_in + 1 then return {'out_of_order'} end
if tonumber(s[4]) - tonumber(s[5]) >= tonumber(ARGV[6]) then return {'backlog_full'} end
redis.call('HSET', KEYS[1], side .. ':in', ARGV[4])
local out = redis.call('HINCRBY', KEYS[1], peer .. ':out', 1)
local text = '{"seq":' .. out .. ',' .. ARGV[5]
redis.call('RPUSH', KEYS[3], text)
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[7]) end
if ARGV[8] ~= '' then
  -- after the mailbox write: a process that hears it finds the message in the store
  redis.call('PUBLISH', ARGV[8], ARGV[9] .. out .. ',"text":' .. cjson.encode(text) .. '}')
end
return {'accepted', out, text}
