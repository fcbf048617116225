"""The Lua scripts of the Redis backend: each multi-key step, one atomic script on the server."""

# The floor of every id sequence. KEYS[1]: the marker ("floor:token"); ARGV[1]: the epoch, ARGV[4]: the
# highest id this worker has given of any sequence. When the marker is gone (the data was lost), a new
# one: past the seconds since the epoch on the Redis clock and past that id. Sets floor, token, lost.
FLOOR = """
local lost = 0
local marker = redis.call('GET', KEYS[1])
local floor, token
if not marker then
  local now = redis.call('TIME')
  floor = math.max(0, tonumber(now[1]) - tonumber(ARGV[1]), tonumber(ARGV[4]))
  token = 'lost-' .. now[1] .. '.' .. now[2]
  redis.call('SET', KEYS[1], string.format('%d', floor) .. ':' .. token)
  lost = 1
else
  local sep = string.find(marker, ':', 1, true)
  floor = tonumber(string.sub(marker, 1, sep - 1))
  token = string.sub(marker, sep + 1)
end
"""
# KEYS: marker, counter. ARGV: epoch, by, the highest id this worker has given of this sequence, of
# any, the marker token it knows. A new counter starts at the floor, or past this worker's highest
# id when the data was lost or the token is the one it knows (no reset since).
NEXT_ID = FLOOR + """
if redis.call('EXISTS', KEYS[2]) == 0 then
  local start = floor
  if (lost == 1 or token == ARGV[5]) and tonumber(ARGV[3]) > start then start = tonumber(ARGV[3]) end
  redis.call('SET', KEYS[2], string.format('%d', start))
end
return {redis.call('INCRBY', KEYS[2], ARGV[2]), lost, token}
"""
PUT = """
if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[2], 'NX', redis.call('INCR', KEYS[3]), ARGV[1])
end
return 1
"""
ADD = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[2], 'NX', redis.call('INCR', KEYS[3]), ARGV[1])
  return 1
end
return 0
"""
DELETE = """
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
"""
# KEYS: marker, log, seq, size. ARGV: epoch, payload, size of the value, highest id (see FLOOR),
# keep (0: no limit), budget (0: none). The newest entry always stays, even alone over the budget.
APPEND = FLOOR + """
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('SET', KEYS[3], floor)
end
local seq = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], seq, seq .. ':' .. ARGV[2])
local size = redis.call('INCRBY', KEYS[4], ARGV[3])
local keep, budget = tonumber(ARGV[5]), tonumber(ARGV[6])
while true do
  local count = redis.call('ZCARD', KEYS[2])
  if count <= 1 or not ((keep > 0 and count > keep) or (budget > 0 and size > budget)) then break end
  local oldest = redis.call('ZPOPMIN', KEYS[2])
  local member = oldest[1]
  local payload_size = string.len(member) - string.len(string.match(member, '^%d+:'))
  size = redis.call('DECRBY', KEYS[4], payload_size)
end
return {seq, lost, token}
"""
DROP = """
local count = redis.call('ZCARD', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
return count
"""
