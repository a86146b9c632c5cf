#!/usr/bin/env python3
"""policy-generalise.py: does a policy tuned on one input hold on another?

For each program, `flymalloc tune --objective balanced --repeat 3` on input
A (into a temporary profile store) picks a policy; then input B runs 5
interleaved times under that policy and under default, and the medians of
wall time and peak RSS (wait4) are compared.  Needs `make` and the bench
programs (`build/flymalloc bench --list` builds nothing; run
`build/flymalloc bench --quick --only st-rand,larson,xmalloc,realloc,perl
--repeat 1` once to build them).  Prints one line per program.
"""
import os, subprocess, statistics, time, re, tempfile
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(ROOT)
B='build/bench/'
SO=os.path.join(ROOT, 'build/libflymalloc.so')
progs = [
 ('randsize', [B+'randsize','--threads','2','--iters','4000000'], [B+'randsize','--iters','4000000']),
 ('larson', [B+'larson','--threads','2','--rounds','60','--ops','200000'], [B+'larson','--threads','1','--rounds','40','--ops','300000']),
 ('xmalloc', [B+'xmalloc','--objects','5000000'], [B+'xmalloc','--objects','2000000']),
 ('realloc', [B+'realloc','--bytes','256m'], [B+'realloc','--bytes','64m']),
 ('perl', ['/usr/bin/perl','bench/real/perlwork.pl','100000'], ['/usr/bin/perl','bench/real/perlwork.pl','40000']),
]
store = tempfile.mkdtemp()
env0 = dict(os.environ, FLYMALLOC_PROFILE_DIR=store, PERL_HASH_SEED='0', PERL_PERTURB_KEYS='0')
def run(argv, policy):
    env = dict(env0, LD_PRELOAD=SO, FLYMALLOC_POLICY=policy)
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    return time.monotonic() - t0, ru.ru_maxrss
for name, a, b in progs:
    out = subprocess.run(['build/flymalloc','tune','--objective','balanced','--repeat','3','--'] + a,
                         env=env0, capture_output=True, text=True).stdout
    win = re.search(r'^\* (\w+)', out, re.M).group(1)
    res = {win: [], 'default': []}
    for r in range(5):
        for pol in (['default', win] if win != 'default' else ['default']):
            res[pol].append(run(b, pol))
    if win == 'default':
        print('%-9s learned %-8s on input A: input B runs default (1.00 / 1.00)' % (name, win)); continue
    td = statistics.median(x[0] for x in res['default']); tw = statistics.median(x[0] for x in res[win])
    md = statistics.median(x[1] for x in res['default']); mw = statistics.median(x[1] for x in res[win])
    print('%-9s learned %-8s on input A: input B time %.3f / %.3f = %.2f, peak RSS %.1f / %.1f MiB = %.2f' % (
        name, win, tw, td, tw/td, mw/1024, md/1024, mw/md))
