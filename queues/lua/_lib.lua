-- Helpers put in front of every script of this folder (they touch no key of their own).
--
-- A task or officer is a hash of strings. Every change bumps its field `v`, and
-- appends one entry to the events stream with the new state of what changed:
--   k  kind         i  event id (unique: "<task id>#<v>" or "officer-<id>#<v>")
--   at time         oid officer concerned ('' if none)
--   t  task JSON    o  officer JSON       d  detail JSON
-- Times come in ARGV from the caller's clock, as strings, and are stored as given.

local function hash(key)
  local flat = redis.call('HGETALL', key)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function json_of(key)
  if redis.call('EXISTS', key) == 0 then return '' end
  return cjson.encode(hash(key))
end

local function emit(stream, kind, id, now, oid, task_json, officer_json, data_json)
  redis.call('XADD', stream, '*', 'k', kind, 'i', id, 'at', now, 'oid', oid,
    't', task_json, 'o', officer_json, 'd', data_json)
end

local function refuse(reason, task_key, officer_key)
  return {'refused', reason, json_of(task_key), json_of(officer_key)}
end

local ENDED = {completed = true, abandoned = true, missed = true, transferred = true}

-- Free `cost` units of an officer's capacity; wrap-up runs at least until `wrap_until`.
local function free_capacity(officer_key, cost, wrap_until)
  local load, wrap = unpack(redis.call('HMGET', officer_key, 'load', 'wrap'))
  load = tonumber(load) - tonumber(cost)
  if tonumber(wrap_until) > tonumber(wrap) then wrap = wrap_until end
  redis.call('HSET', officer_key, 'load', load, 'wrap', wrap)
  if load == 0 then redis.call('HSET', officer_key, 'idle', wrap) end
end

local function bump(key)
  return redis.call('HINCRBY', key, 'v', 1)
end

-- May an officer answer a task's service line: the rule of cases.vocabulary.eligible (she is
-- on the line; a female-only line goes to a female officer), written here once for the
-- scripts. `female_only` is the task's flag ('1'|'0'), which the router sets from the
-- routing file's [lines] when it enqueues or moves the task: no line is named here.
local function eligible(lines, gender, line, female_only)
  if not string.find(lines, '|' .. line .. '|', 1, true) then return false end
  return female_only ~= '1' or gender == 'female'
end

-- Offer a task to an officer if both are still free and the hard rules hold: the task
-- is waiting; the officer answers its service line; a female-only task goes to a female
-- officer; she is available, has no offer pending, is out of wrap-up and has the
-- capacity; she did not just decline or miss this task. Every path into an officer
-- comes through here (reserve, and the steps that free an officer and offer her next).
-- Returns the refusal reason, or nil, the task JSON and the officer JSON.
local function make_offer(stream, task, officer, task_id, officer_id, now, expires, data_json)
  local st, line, fonly, cost, shut = unpack(redis.call('HMGET', task, 'st', 'line', 'fonly',
    'cost', 'x' .. officer_id))
  if not st then return 'unknown_task' end
  local pres, offer, load, cap, wrap, gender, lines = unpack(redis.call('HMGET', officer, 'pres',
    'offer', 'load', 'cap', 'wrap', 'gender', 'lines'))
  if not pres then return 'unknown_officer' end
  if st ~= 'waiting' then return 'task_not_waiting' end
  if not eligible(lines, gender, line, fonly) then return 'hard_rule' end
  local t = tonumber(now)
  if pres ~= 'available' or offer ~= '' or tonumber(wrap) > t
      or tonumber(load) + tonumber(cost) > tonumber(cap) then
    return 'officer_not_free'
  end
  if shut and tonumber(shut) > t then return 'excluded' end
  redis.call('HSET', task, 'st', 'offered', 'off', officer_id, 'oexp', expires)
  redis.call('HSET', officer, 'offer', task_id)
  local tv = bump(task)
  bump(officer)
  local tj, oj = json_of(task), json_of(officer)
  emit(stream, 'offered', task_id .. '#' .. tv, now, officer_id, tj, oj, data_json)
  return nil, tj, oj
end

-- Record an outcome (accepted, abandoned, missed, completed) in the statistics window:
-- a sorted set scored by time, each member a JSON {i = event id, k = kind, l = line,
-- s = seconds waited or handled}; what is older than `forget_before` is dropped.
local function record_outcome(window, now, event_id, kind, line, seconds, forget_before)
  redis.call('ZADD', window, now, cjson.encode({i = event_id, k = kind, l = line, s = seconds}))
  redis.call('ZREMRANGEBYSCORE', window, '-inf', '(' .. forget_before)
end
