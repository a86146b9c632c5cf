# pywork.py: an allocation-heavy Python program for the flymalloc benchmarks.
#
# Models a data-processing script: it builds many records (dicts holding
# strings, lists and tuples), indexes and groups them, serializes chunks to
# JSON and parses them back, rewrites long strings, drops half the records
# and rebuilds its indexes.  CPython serves objects of up to 512 bytes from
# its own pools (pymalloc, on memory it maps itself) and asks malloc for
# everything larger: list and dict storage, long strings and bytes, JSON
# buffers.  So the allocator sees the medium and large traffic of a real
# interpreter.
#
# Usage: python3 pywork.py N.  Prints "checksum=X" and exits 1 if X is not
# the known result for N; BENCH_CORRUPT=1 alters one record first, so the
# check must fail.
import json
import os
import sys
import zlib

# N -> checksum, for the sizes the harness uses (tiny, quick, full).
EXPECTED = {300: 4097751183, 40000: 3486140738, 150000: 3329439425}


def lcg(seed):
    x = seed & 0xFFFFFFFF
    while True:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        yield x


def run(n):
    rnd = lcg(n)
    records = []
    for i in range(n):
        r = next(rnd)
        records.append({
            "id": i,
            "name": "user%06d-%x" % (r % 1000003, i),
            "tags": ["t%d" % ((r >> k) % 97) for k in range(r % 7 + 1)],
            "score": (r % 10007) / 7.0,
            "blob": ("%08x" % r) * (1 + r % 90),  # 8..720 characters
            "pair": (i, r % 13),
        })
    if os.environ.get("BENCH_CORRUPT") == "1":
        records[n // 2]["score"] += 1.0

    # Index and group.
    by_tag = {}
    for rec in records:
        for t in rec["tags"]:
            by_tag.setdefault(t, []).append(rec["id"])
    groups = {}
    for rec in records:
        groups.setdefault(rec["pair"][1], []).append(rec)

    # Serialize in chunks and parse back.
    crc = 0
    for start in range(0, n, 500):
        text = json.dumps(records[start:start + 500], sort_keys=True)
        crc = zlib.crc32(text.encode(), crc)
        back = json.loads(text)
        crc = zlib.crc32(repr(len(back)).encode(), crc)

    # Rewrite long strings.
    for rec in records:
        b = rec["blob"]
        rec["blob"] = b[::-1].upper() + "|" + b[: len(b) // 2]
        rec["name"] = "-".join(reversed(rec["name"].split("-")))

    # Drop half, rebuild an index, sort.
    records = [rec for rec in records if rec["id"] % 2 == 0 or len(rec["blob"]) > 500]
    index = {rec["name"]: rec for rec in records}
    ordered = sorted(index.values(), key=lambda rec: (rec["score"], rec["id"]))

    total = crc
    for rec in ordered:
        total = (total * 31 + rec["id"] + len(rec["blob"]) + int(rec["score"] * 7)) % 4294967291
    for t in sorted(by_tag):
        total = (total * 17 + len(by_tag[t]) + sum(by_tag[t][:5])) % 4294967291
    for g in sorted(groups):
        total = (total * 13 + len(groups[g])) % 4294967291
    return total



def main():
    n = int(sys.argv[1])
    got = run(n)
    print("checksum=%d records=%d" % (got, n))
    want = EXPECTED.get(n)
    if want is None:
        print("no expected checksum for N=%d (known: %s)" % (n, sorted(EXPECTED)), file=sys.stderr)
        return 1
    if got != want:
        print("CHECK FAILED: pywork checksum %d, expected %d" % (got, want), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
