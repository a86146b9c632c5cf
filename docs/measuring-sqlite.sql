CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, body TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 200000)
INSERT INTO t SELECT x, 'name' || x, printf('%.*c', 50 + x % 400, 'x') FROM c;
CREATE INDEX t_name ON t(name);
DELETE FROM t WHERE id % 10 != 0;
SELECT count(*), sum(length(body)) FROM t;
