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
