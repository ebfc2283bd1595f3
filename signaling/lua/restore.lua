-- Give back a side whose session Redis lost (it restarted without persistence, or was
-- flushed) while a socket on this process still holds it (signaling/redis_store.py:
-- RedisStore.restore). The session is made again, open, with this side connected and
-- numbered on from where its page is. What the peer sent before this side was given back
-- (the peer's process may have been first) waits in this side's mailbox numbered from 1:
-- it is numbered on from the page's last seq. Join tokens are not made again: the page
-- resumes with its resume token; an officer who answers again gets a fresh one (arm).
-- KEYS[1]  the session hash
-- KEYS[2]  this side's mailbox
-- KEYS[3]  the sides held by this process (see take.lua)
-- ARGV[1]  side             ARGV[2]  connection id
-- ARGV[3]  resume-token hash
-- ARGV[4]  the last seq taken from the page
-- ARGV[5]  the last seq sent to the page
-- ARGV[6]  idle time to live, seconds
-- ARGV[7]  session id
-- Returns 1 when given back (or given back before to this connection), 0 when the session
-- is there and has ended, or another connection holds the side.
local side = ARGV[1]
local status = redis.call('HGET', KEYS[1], 'status')
if status and status ~= 'open' then return 0 end
if not status then
  local fields = {'status', 'open', 'reason', '', 'ended_by', '', 'officer_id', ''}
  for _, s in ipairs({'citizen', 'officer'}) do
    for _, pair in ipairs({{'token', ''}, {'resume', ''}, {'conn', ''}, {'state', 'not_joined'},
        {'deadline', 0}, {'in', 0}, {'out', 0}, {'acked', 0}, {'used', '1'}}) do
      fields[#fields + 1] = s .. ':' .. pair[1]
      fields[#fields + 1] = pair[2]
    end
  end
  redis.call('HSET', KEYS[1], unpack(fields))
end
local conn = redis.call('HGET', KEYS[1], side .. ':conn')
if conn == ARGV[2] then return 1 end
if conn ~= '' then return 0 end
local base = tonumber(ARGV[5])
local texts = redis.call('LRANGE', KEYS[2], 0, -1)
if #texts > 0 then
  redis.call('DEL', KEYS[2])
  for i, text in ipairs(texts) do
    local rest = string.match(text, '^{"seq":%d+,(.*)$') or ''
    redis.call('RPUSH', KEYS[2], '{"seq":' .. (base + i) .. ',' .. rest)
  end
end
redis.call('HSET', KEYS[1], side .. ':conn', ARGV[2], side .. ':state', 'connected',
  side .. ':resume', ARGV[3], side .. ':used', '1', side .. ':in', ARGV[4],
  side .. ':out', base + #texts, side .. ':acked', base, side .. ':deadline', 0)
redis.call('SADD', KEYS[3], ARGV[7] .. '|' .. side .. '|' .. ARGV[2])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[6]) end
return 1
