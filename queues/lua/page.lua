-- Tell an officer's console that a supervisor needs her.
-- KEYS[1] officer hash   KEYS[2] events stream
-- ARGV[1] officer id  ARGV[2] now  ARGV[3] detail JSON
local officer = KEYS[1]
if redis.call('EXISTS', officer) == 0 then return refuse('unknown_officer', officer, officer) end
local v = bump(officer)
local oj = json_of(officer)
emit(KEYS[2], 'page', 'officer-' .. ARGV[1] .. '#' .. v, ARGV[2], ARGV[1], '', oj, ARGV[3])
return {'ok', '', '', oj}
