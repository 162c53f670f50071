-- A limiter group's hash as a Lua table (included by the limiter scripts; src/limiter/shared-state.ts
-- describes its fields). It is read once (one HMGET of the fields a script needs), changed with
-- put/del, and written once (flush: one HDEL, one HSET): a script's commands count against Redis
-- like a client's.
local bucket_names = { 'req', 'in', 'out' }

local function load_hash(key, fields)
  local raw = redis.call('HMGET', key, unpack(fields))
  local hash = { key = key, f = {}, existed = {}, set = {}, dels = {} }
  for i, name in ipairs(fields) do
    if raw[i] then
      hash.f[name] = raw[i]
      hash.existed[name] = true
    end
  end
  return hash
end

local function put(hash, name, value)
  hash.set[name] = value
  hash.dels[name] = nil
  hash.f[name] = value
end

local function del(hash, name)
  hash.set[name] = nil
  if hash.existed[name] then hash.dels[name] = true end
  hash.f[name] = nil
end

local function num(hash, name)
  return tonumber(hash.f[name])
end

local function flush(hash)
  local gone = {}
  for name in pairs(hash.dels) do gone[#gone + 1] = name end
  if #gone > 0 then redis.call('HDEL', hash.key, unpack(gone)) end
  local args = {}
  for name, value in pairs(hash.set) do
    args[#args + 1] = name
    args[#args + 1] = value
  end
  if #args > 0 then redis.call('HSET', hash.key, unpack(args)) end
end
