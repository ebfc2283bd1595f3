-- End a task not yet answered: 'abandoned' (she left), 'missed' (only once its
-- time-to-live is up) or 'transferred' (moved to a callback). A pending offer is
-- withdrawn. When ARGV[6] names a callback task, it is added (waiting) in the same step.
-- KEYS[1] task hash   KEYS[2] hash of the officer it is offered to (any key if none)
-- KEYS[3] set of active task ids   KEYS[4] callback task hash (any key if none)
-- KEYS[5] arrival counter   KEYS[6] events stream   KEYS[7] statistics window (sorted set)
-- ARGV[1] task id  ARGV[2] now  ARGV[3] status  ARGV[4] event kind
-- ARGV[5] officer the caller believes it is offered to ('' if none)
-- ARGV[6] callback task id ('' for none)  ARGV[7] seconds an ended task is remembered
-- ARGV[8] callback detail JSON  ARGV[9] statistics older than this time are forgotten
-- ARGV[10..] field, value, ... of the callback task
-- Returns {'ok'|'refused', reason, task JSON, officer JSON, callback JSON}; reason 'retry'
-- when the task is offered to another officer than ARGV[5].
local task, officer, stream = KEYS[1], KEYS[2], KEYS[6]
local now, status = ARGV[2], ARGV[3]
local st, off, ttl, arr, line = unpack(redis.call('HMGET', task, 'st', 'off', 'ttl', 'arr',
  'line'))
if not st then return refuse('unknown_task', task, officer) end
if ENDED[st] then return refuse('ended', task, officer) end
if st == 'assigned' then return refuse('answered', task, officer) end
if status == 'missed' and tonumber(ttl) > tonumber(now) then return refuse('not_due', task, officer) end
if off ~= ARGV[5] then return refuse('retry', task, officer) end
local oj = ''
if st == 'offered' then
  redis.call('HSET', officer, 'offer', '')
  bump(officer)
  oj = json_of(officer)
end
local data = {wait = tonumber(now) - tonumber(arr)}
if ARGV[4] == 'transferred' then data.to = 'callback' end
local cj = ''
local callback = KEYS[4]
if ARGV[6] ~= '' and redis.call('EXISTS', callback) == 0 then
  local fields = {}
  for i = 10, #ARGV do fields[#fields + 1] = ARGV[i] end
  local seq = redis.call('INCR', KEYS[5])
  redis.call('HSET', callback, 'seq', seq, 'v', 1, 'st', 'waiting', 'off', '', 'oexp', 0,
    'ans', 0, unpack(fields))
  redis.call('SADD', KEYS[3], ARGV[6])
  cj = json_of(callback)
  data.callback_task = ARGV[6]
end
redis.call('HSET', task, 'st', status, 'off', '', 'oexp', 0)
redis.call('SREM', KEYS[3], ARGV[1])
local tv = bump(task)
redis.call('EXPIRE', task, tonumber(ARGV[7]))
local tj = json_of(task)
local event_id = ARGV[1] .. '#' .. tv
emit(stream, ARGV[4], event_id, now, off, tj, oj, cjson.encode(data))
if ARGV[4] ~= 'transferred' then
  record_outcome(KEYS[7], now, event_id, ARGV[4], line, data.wait, ARGV[9])
end
if cj ~= '' then emit(stream, 'enqueued', ARGV[6] .. '#1', now, '', cj, '', ARGV[8]) end
return {'ok', '', tj, oj, cj}
