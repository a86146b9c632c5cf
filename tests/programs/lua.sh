#!/usr/bin/env bash
# lua: Lua 5.4 churning tables (array and hash parts, growth and removal),
# strings (concatenation, gsub, format, rep), closures and coroutines, with
# full garbage collections, prints the same on flymalloc as on glibc.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
lua=$(command -v lua5.4 || command -v lua) || skip "lua5.4 not installed"
cat >"$FLY_TMP/work.lua" <<'LUA'
local seed = 7
local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n end
local t = {}
for i = 1, 300000 do
  local k = "k" .. rnd(50000)
  local v = t[k]
  if not v then v = {}; t[k] = v end
  v[#v + 1] = i
  if i % 9 == 0 then t["k" .. rnd(50000)] = nil end
end
local nkeys, nvals = 0, 0
for _, v in pairs(t) do nkeys = nkeys + 1; nvals = nvals + #v end
print("table", nkeys, nvals)
local parts = {}
for i = 1, 100000 do parts[#parts + 1] = string.format("%06d:%s", i, string.rep(string.char(97 + i % 26), i % 40)) end
local s = table.concat(parts, ";")
local s2, n = s:gsub("[aeiou]+", function(m) return m:upper() end)
print("string", #s, #s2, n)
table.sort(parts, function(a, b) return #a < #b or (#a == #b and a < b) end)
print("sort", parts[1], parts[#parts]:sub(1, 20))
local function counter() local c = 0; return function() c = c + 1; return c end end
local cs = {}
for i = 1, 50000 do cs[i] = counter(); cs[i]() end
local total = 0
for i = 1, 50000 do total = total + cs[i]() end
print("closures", total)
local co = coroutine.wrap(function() for i = 1, 100000 do coroutine.yield({i, tostring(i)}) end end)
local acc = 0
for _ = 1, 100000 do acc = acc + co()[1] end
print("coroutines", acc)
collectgarbage("collect")
print("gc", collectgarbage("count") > 0)
LUA
compare lua "$lua" "$FLY_TMP/work.lua"
