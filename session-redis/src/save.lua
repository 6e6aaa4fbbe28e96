-- KEYS[1]: the record's key
-- ARGV[1]: the version tag the caller loaded (16 bytes)
-- ARGV[2]: the new record (sealed bytes, then the new tag)
-- ARGV[3]: the TTL in milliseconds
local current = redis.call('GETRANGE', KEYS[1], -16, -1)
if current == '' then
  return 0 -- gone: deleted, expired, or never there
end
if current ~= ARGV[1] then
  if current == string.sub(ARGV[2], -16) then
    return 2 -- saved: this very write, run a second time (a resent command)
  end
  return 1 -- conflict: written by someone else since it was loaded
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 2 -- saved
