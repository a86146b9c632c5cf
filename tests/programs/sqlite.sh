#!/usr/bin/env bash
# sqlite: the sqlite3 shell builds a 100,000-row table with a recursive CTE,
# indexes it, runs joins, GROUP BY, ORDER BY, window functions, string and
# JSON functions, updates, deletes and VACUUM, and prints the same results
# on flymalloc as on glibc (both on a file database and in memory).
# flytest: timeout=300
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
cat >"$FLY_TMP/work.sql" <<'SQL'
PRAGMA cache_size = -20000;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, name TEXT, payload TEXT, v REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO t SELECT x, (x * 7919) % 1000, 'name' || (x % 5000), hex(randomblob(0)) || substr('abcdefghijklmnopqrstuvwxyz', 1 + x % 26) || printf('%0*d', x % 200, x), x * 0.25 FROM c;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_name ON t(name, v);
SELECT count(*), sum(k), total(v), max(length(payload)) FROM t;
SELECT k, count(*), sum(v), group_concat(id % 10, '') FROM t WHERE k < 20 GROUP BY k ORDER BY k;
SELECT name, count(*) FROM t GROUP BY name ORDER BY count(*) DESC, name LIMIT 10;
CREATE TABLE u AS SELECT k, avg(v) AS a, count(*) AS n FROM t GROUP BY k;
SELECT t.k, round(u.a, 3), u.n FROM t JOIN u ON t.k = u.k WHERE t.id % 9973 = 0 ORDER BY t.id;
SELECT id, k, sum(v) OVER (PARTITION BY k ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t WHERE k = 7 ORDER BY id LIMIT 20;
SELECT json_group_array(json_object('id', id, 'n', name)) FROM (SELECT id, name FROM t WHERE id % 10000 = 1);
UPDATE t SET payload = payload || payload WHERE k % 3 = 0;
DELETE FROM t WHERE k % 5 = 0;
SELECT count(*), sum(length(payload)) FROM t;
SELECT upper(substr(group_concat(name, ','), 1, 200)) FROM (SELECT DISTINCT name FROM t ORDER BY name LIMIT 100);
VACUUM;
SELECT count(*), sum(k) FROM t INDEXED BY t_k WHERE k BETWEEN 100 AND 300;
PRAGMA integrity_check;
SQL
compare sqlite_file bash -c "rm -f '$FLY_TMP/db'; sqlite3 '$FLY_TMP/db' < '$FLY_TMP/work.sql'"
compare sqlite_memory bash -c "sqlite3 ':memory:' < '$FLY_TMP/work.sql'"
