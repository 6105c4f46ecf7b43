/** BarCache.appendMany's script (marketdata/cache.ts), run by Redis: one series' append, checked against its newest bar. */

/**
 * KEYS[1] the series, KEYS[2] its revision; ARGV prevTs ('' = replace), maxBars, ttlMs, a new revision token, then
 * ts, member pairs. 1 = written, 0 = dropped. A replace, a drop, or a bar at or before prevTs (a revision) sets the
 * new token; a plain append keeps the revision (and its expiry in step with the series).
 */
export const APPEND_SCRIPT = `
local prev = ARGV[1]
local revised = false
if prev == '' then
  redis.call('DEL', KEYS[1])
  revised = true
else
  local last = redis.call('ZRANGE', KEYS[1], -1, -1)
  if #last == 0 or tonumber(string.match(last[1], '^[^,]+')) ~= tonumber(prev) then
    redis.call('DEL', KEYS[1])
    redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[3])
    return 0
  end
end
for i = 5, #ARGV, 2 do
  if prev ~= '' and tonumber(ARGV[i]) <= tonumber(prev) then revised = true end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[i], ARGV[i])
  redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[2]) + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if revised then
  redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[3])
else
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1
`;
