-- luawork.lua: an allocation-heavy Lua program for the flymalloc benchmarks.
--
-- Models a scripting workload: it builds records (tables holding strings
-- and arrays), groups and sorts them, serializes them to text and parses the
-- text back, rewrites strings and drops half the records.  Lua allocates
-- every table, string and array part through one realloc-style function
-- that calls the C library's realloc and free, so the allocator sees all of
-- an interpreter's traffic: small objects, growing arrays and hash parts.
--
-- Usage: lua5.4 luawork.lua N.  Prints "checksum=X"; BENCH_CORRUPT=1
-- alters one record first, so a check against a clean run must fail.
local n = tonumber(arg[1]) or 1000
local x = n
local function rnd()
  x = (x * 1103515245 + 12345) % 2147483648
  return x
end

local records = {}
for i = 1, n do
  local r = rnd()
  local tags = {}
  for k = 1, r % 7 + 1 do tags[k] = "t" .. ((r >> k) % 97) end
  records[i] = {
    id = i,
    name = string.format("user%06d-%x", r % 1000003, i),
    tags = tags,
    score = (r % 10007) / 7.0,
    blob = string.rep(string.format("%08x", r), 1 + r % 60),
    group = r % 13,
  }
end
if os.getenv("BENCH_CORRUPT") == "1" then
  records[n // 2].score = records[n // 2].score + 1
end

-- Index and group.
local by_tag, groups = {}, {}
for _, rec in ipairs(records) do
  for _, t in ipairs(rec.tags) do
    local l = by_tag[t]
    if not l then l = {}; by_tag[t] = l end
    l[#l + 1] = rec.id
  end
  local g = groups[rec.group]
  if not g then g = {}; groups[rec.group] = g end
  g[#g + 1] = rec
end

-- Serialize in chunks and parse back.
local sum = 0
for start = 1, n, 500 do
  local parts = {}
  for i = start, math.min(n, start + 499) do
    local rec = records[i]
    parts[#parts + 1] = string.format("%d;%s;%s;%.3f;%s", rec.id, rec.name,
      table.concat(rec.tags, ","), rec.score, rec.blob)
  end
  local text = table.concat(parts, "\n")
  for line in text:gmatch("[^\n]+") do
    local id, name, tags, score = line:match("^(%d+);([^;]*);([^;]*);([^;]*);")
    local nt = 0
    for _ in tags:gmatch("[^,]+") do nt = nt + 1 end
    sum = (sum + tonumber(id) * 31 + #name + nt * 7 + math.floor(tonumber(score) * 1000)) % 4294967296
  end
end

-- Rewrite long strings.
for _, rec in ipairs(records) do
  local b = rec.blob
  rec.blob = b:reverse():upper() .. "|" .. b:sub(1, #b // 2)
  rec.name = rec.name:gsub("(%w+)-(%w+)", "%2-%1")
end

-- Drop half, sort what is left, summarize the groups.
local kept = {}
for _, rec in ipairs(records) do
  if rec.id % 2 == 0 then kept[#kept + 1] = rec end
end
records, groups = nil, nil
collectgarbage()
table.sort(kept, function(a, b)
  if a.score ~= b.score then return a.score > b.score end
  return a.id < b.id
end)
for i, rec in ipairs(kept) do
  sum = (sum + i * (#rec.blob + #rec.name) + rec.id) % 4294967296
end
for t, l in pairs(by_tag) do sum = (sum + #l * #t) % 4294967296 end
print(string.format("records=%d kept=%d checksum=%d", n, #kept, sum))
