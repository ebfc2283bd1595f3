-- Add a waiting task, unless a task with this id exists (or existed, recently).
-- KEYS[1] task hash   KEYS[2] set of active task ids   KEYS[3] arrival counter
-- KEYS[4] events stream
-- ARGV[1] task id  ARGV[2] now  ARGV[3] detail JSON  ARGV[4..] field, value, ... of the task
-- Returns {'ok'|'refused', reason, task JSON, ''}; reason 'exists' when the id is known.
local task = KEYS[1]
if redis.call('EXISTS', task) == 1 then return {'refused', 'exists', json_of(task), ''} end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', task, 'seq', seq, 'v', 1, 'st', 'waiting', 'off', '', 'oexp', 0, 'ans', 0,
  unpack(fields))
redis.call('SADD', KEYS[2], ARGV[1])
local tj = json_of(task)
emit(KEYS[4], 'enqueued', ARGV[1] .. '#1', ARGV[2], '', tj, '', ARGV[3])
return {'ok', '', tj, ''}
