# workload.py: an allocation-heavy Python program with deterministic output,
# run by python_workload.sh on glibc and on flymalloc and compared.
# Dicts, lists, sets, strings and bytes of many sizes, JSON round trips,
# regular expressions, sorting, big integers, a reference cycle collector
# pass, and threads building and exchanging objects.
import gc
import hashlib
import json
import queue
import random
import re
import sys
import threading

rng = random.Random(12345)
h = hashlib.sha256()


def out(*args):
    line = " ".join(str(a) for a in args)
    h.update(line.encode())
    print(line)


# dict/list churn with growth and shrinkage
d = {}
for i in range(200000):
    k = "k%d" % rng.randrange(50000)
    d.setdefault(k, []).append(i)
    if i % 7 == 0:
        d.pop("k%d" % rng.randrange(50000), None)
out("dict", len(d), sum(len(v) for v in d.values()))

# strings: join, split, replace, format; bytes
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(1, 30))) for _ in range(50000)]
text = " ".join(words)
out("text", len(text), text.count("ab"), len(text.split()), len(text.replace("a", "AAAA")))
big = (text * 20).encode()
out("bytes", len(big), hashlib.md5(big).hexdigest())
parts = [("%08d:%s" % (i, w)).upper() for i, w in enumerate(words)]
out("parts", hashlib.md5("\n".join(parts).encode()).hexdigest())

# JSON round trip of a nested structure
obj = {"items": [{"id": i, "name": words[i % len(words)], "tags": words[i % 97:i % 97 + 5],
                  "score": i * 0.5, "nested": {"a": [i] * (i % 10)}} for i in range(30000)]}
s = json.dumps(obj, sort_keys=True)
back = json.loads(s)
out("json", len(s), back == obj, hashlib.md5(s.encode()).hexdigest())

# regular expressions
pat = re.compile(r"\b([a-m]+)([n-z]*)\b")
found = pat.findall(text)
out("re", len(found), sum(len(a) + len(b) for a, b in found))
out("re-sub", hashlib.md5(re.sub(r"(\w)(\w*)", lambda m: m.group(2) + m.group(1), text[:200000]).encode()).hexdigest())

# sorting, sets, big integers
nums = [rng.randrange(10 ** 9) for _ in range(300000)]
nums.sort()
out("sort", nums[0], nums[-1], nums[150000], len(set(nums)))
f = 1
for i in range(1, 3000):
    f *= i
out("bigint", f.bit_length(), f % 1000000007, len(str(f % (10 ** 4000))))

# reference cycles and the collector
class Node:
    def __init__(self, v):
        self.v = v
        self.peer = None
        self.data = [v] * (v % 50)

nodes = [Node(i) for i in range(100000)]
for i, n in enumerate(nodes):
    n.peer = nodes[(i * 7919) % len(nodes)]
total = sum(n.peer.v for n in nodes)
del nodes
out("cycles", total, gc.collect() >= 0)

# threads exchanging objects through a queue
q = queue.Queue(maxsize=1000)
results = []
lock = threading.Lock()


def producer(seed):
    r = random.Random(seed)
    for i in range(20000):
        q.put({"seed": seed, "i": i, "payload": "x" * r.randrange(1, 2000), "l": list(range(i % 30))})


def consumer():
    acc = 0
    while True:
        item = q.get()
        if item is None:
            break
        acc += len(item["payload"]) + sum(item["l"])
    with lock:
        results.append(acc)


producers = [threading.Thread(target=producer, args=(s,)) for s in range(4)]
consumers = [threading.Thread(target=consumer) for _ in range(4)]
for t in producers + consumers:
    t.start()
for t in producers:
    t.join()
for _ in consumers:
    q.put(None)  # one end marker per consumer, after every item
for t in consumers:
    t.join()
out("threads", len(results), sum(results))  # every item consumed exactly once
out("digest", h.hexdigest())
