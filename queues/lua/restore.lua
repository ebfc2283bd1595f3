-- Put back a task that Redis lost (it restarted without persistence, or was flushed):
-- waiting in line with its first arrival, or held by the officer in conversation with her
-- (her capacity taken again). Nothing is written when the task exists: exactly once, however
-- many processes rebuild at the same time.
-- KEYS[1] task hash   KEYS[2] set of active task ids   KEYS[3] arrival counter
-- KEYS[4] events stream   KEYS[5] officer hash (held; any key when waiting)
-- ARGV[1] task id  ARGV[2] now  ARGV[3] detail JSON  ARGV[4] officer id ('' : waiting)
-- ARGV[5] its first version, above any it had before the loss (event ids stay unique)
-- ARGV[6..] field, value, ... of the task
-- Returns {'ok'|'refused', reason, task JSON, officer JSON}; 'exists', 'unknown_officer'.
local task, officer, oid = KEYS[1], KEYS[5], ARGV[4]
if redis.call('EXISTS', task) == 1 then return {'refused', 'exists', json_of(task), ''} end
if oid ~= '' and redis.call('EXISTS', officer) == 0 then
  return {'refused', 'unknown_officer', '', ''}
end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', task, 'seq', seq, 'v', ARGV[5], 'st', 'waiting', 'off', '', 'oexp', 0,
  'ans', 0, unpack(fields))
local oj = ''
if oid ~= '' then
  redis.call('HSET', task, 'st', 'assigned', 'off', oid, 'ans', ARGV[2])
  redis.call('HINCRBY', officer, 'load', redis.call('HGET', task, 'cost'))
  bump(officer)
  oj = json_of(officer)
end
redis.call('SADD', KEYS[2], ARGV[1])
local tj = json_of(task)
emit(KEYS[4], 'restored', ARGV[1] .. '#' .. ARGV[5], ARGV[2], oid, tj, oj, ARGV[3])
return {'ok', '', tj, oj}
