# The workload of docs/report-example.html and docs/report-screenshot.png:
#
#   cd docs && PYTHONMALLOC=malloc ../build/flymalloc trace -o /tmp/report-example.trace \
#       -- /usr/bin/python3 report-example.py
#   ../build/flymalloc report /tmp/report-example.trace \
#       --compare glibc,jemalloc,mimalloc,tcmalloc,flymalloc -o report-example.html
#
# (PYTHONMALLOC=malloc sends Python's small objects to malloc too.)  It builds
# an index of random words, serializes and parses it, drops it, then churns
# through short-lived strings and a few large buffers.
import json
import random

r = random.Random(42)
words = ["".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randrange(3, 12)))
         for _ in range(20000)]
index = {}
for i in range(60000):
    index.setdefault(r.choice(words), []).append((i, r.random()))
blob = json.dumps(index)
index = None
back = json.loads(blob)
del blob, back


def churn(seed):
    rr = random.Random(seed)
    keep = []
    for i in range(40000):
        keep.append(" ".join(rr.choice(words) for _ in range(rr.randrange(1, 20))))
        if len(keep) > 5000:
            keep.pop(rr.randrange(len(keep)))
        if i % 4000 == 0:
            keep.append(bytearray(rr.randrange(1 << 20, 8 << 20)))


churn(1)
churn(2)
print("done")
