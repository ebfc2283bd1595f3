-- Take messages from a side, in order, and put them in the peer's mailbox; publish
-- them on the bus too when asked (signaling/redis_store.py: RedisStore.accept).
-- Judged one by one, as if each came alone: a refused one changes nothing.
-- KEYS[1]  the session hash
-- KEYS[2]  this side's mailbox (only its time to live is refreshed)
-- KEYS[3]  the peer's mailbox
-- ARGV[1]  side             ARGV[2]  peer side
-- ARGV[3]  connection id
-- ARGV[4]  most messages a mailbox may hold
-- ARGV[5]  idle time to live, seconds
-- ARGV[6]  prefix of the nodes' own bus channels ("" to publish nothing)
-- ARGV[7]  the bus message up to its seq (signaling/bus.py: DeliverNotice)
-- ARGV[8]  the node asking (it delivers to its own sockets itself)
-- ARGV[9], ARGV[10], ...  each message: the page's seq, then the relayed body
--          (JSON without the opening brace and seq)
-- Returns, per message in order, {"accepted", seq, text} or {outcome} for "ended",
-- "not_current", "duplicate", "out_of_order", "backlog_full".
local side, peer = ARGV[1], ARGV[2]
local count = (#ARGV - 8) / 2
local results = {}
local s = redis.call('HMGET', KEYS[1], 'status', side .. ':conn', side .. ':in',
  peer .. ':out', peer .. ':acked', peer .. ':conn')
if s[1] ~= 'open' or s[2] ~= ARGV[3] then
  local outcome = (s[1] ~= 'open') and 'ended' or 'not_current'
  for i = 1, count do results[i] = {outcome} end
  return results
end
local last_in, out, acked = tonumber(s[3]), tonumber(s[4]), tonumber(s[5])
local most = tonumber(ARGV[4])
local taken_seq = nil  -- the page's seq of the last message taken, as it came (a string)
local texts = {}
for i = 1, count do
  local given = ARGV[7 + 2 * i]
  local seq = tonumber(given)
  if seq <= last_in then
    results[i] = {'duplicate'}
  elseif seq ~= last_in + 1 then
    results[i] = {'out_of_order'}
  elseif out - acked >= most then
    results[i] = {'backlog_full'}
  else
    last_in, out, taken_seq = seq, out + 1, given
    local text = '{"seq":' .. out .. ',' .. ARGV[8 + 2 * i]
    texts[#texts + 1] = text
    results[i] = {'accepted', out, text}
  end
end
if taken_seq then
  redis.call('HSET', KEYS[1], side .. ':in', taken_seq)
  redis.call('HINCRBY', KEYS[1], peer .. ':out', #texts)
  redis.call('RPUSH', KEYS[3], unpack(texts))
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
  -- The node holding the peer's socket (its connection id is "<node>/<random>").
  local node = string.match(s[6] or '', '^(.*)/[^/]*$')
  if ARGV[6] ~= '' and node and node ~= '' and node ~= ARGV[8] then
    -- after the mailbox write: a node that hears it finds the messages in the store
    local message = ARGV[7] .. (out - #texts + 1) .. ',"text":' .. cjson.encode(texts[1])
    if #texts > 1 then
      message = message .. ',"more":' .. cjson.encode({unpack(texts, 2)})
    end
    redis.call('PUBLISH', ARGV[6] .. node, message .. '}')
  end
end
return results
