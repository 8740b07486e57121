#!/usr/bin/env python3
"""Summarises the meta-vote study's results.csv as Markdown: accuracy mean ± std (over tasks and seeds) per model, ratio,
method and fine-tuning steps, with the cells counted, mean parameters and mean wall/CPU seconds per cell."""
import csv
import statistics
import sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1])))
cells = defaultdict(list)
for r in rows:
    cells[(r["model"], r["ratio"], r["method"], int(r["steps"]))].append(r)
order = ["k1", "k3", "k5", "random3", "l2", "taylor", "random", "iterative", "dense"]
print("| model | removed | method | steps | accuracy (mean ± std) | n | acc. right after prune | params | wall s | CPU s |")
print("|---|---|---|---|---|---|---|---|---|---|")
for key in sorted(cells, key=lambda k: (k[0], k[1], k[3], order.index(k[2]) if k[2] in order else 99)):
    rs = cells[key]
    acc = [float(r["accuracy"]) for r in rs]
    before = [float(r["accuracy_before"]) for r in rs if r["accuracy_before"]]
    params = [float(r["params"]) for r in rs if r["params"]]
    sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
    f = lambda xs, fmt: (fmt % statistics.mean(xs)) if xs else "–"
    print(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {100*statistics.mean(acc):.2f} ± {100*sd:.2f} % | {len(acc)} | "
          f"{f([100*b for b in before], '%.2f %%')} | {f(params, '%.0f')} | {f([float(r['wall_s']) for r in rs], '%.1f')} | {f([float(r['cpu_s']) for r in rs], '%.1f')} |")

# Paired differences against one-shot L2 on the same task, seed, removal and step budget (tasks differ in difficulty far
# more than methods do, so the unpaired std above hides the comparison).
by = {(r["model"], r["ratio"], int(r["steps"]), r["seed"], r["task"], r["method"]): float(r["accuracy"]) for r in rows}
pairs = defaultdict(list)
for (m, ratio, steps, seed, task, method), acc in by.items():
    ref = by.get((m, ratio, steps, seed, task, "l2"))
    if method != "l2" and ref is not None:
        pairs[(m, ratio, method, steps)].append(acc - ref)
if pairs:
    print()
    print("| model | removed | method − l2 | steps | mean difference (pp) | std | wins / losses / ties | n |")
    print("|---|---|---|---|---|---|---|---|")
    for key in sorted(pairs, key=lambda k: (k[0], k[1], k[3], order.index(k[2]) if k[2] in order else 99)):
        d = pairs[key]
        sd = statistics.stdev(d) if len(d) > 1 else 0.0
        print(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {100*statistics.mean(d):+.2f} | {100*sd:.2f} | "
              f"{sum(x > 1e-9 for x in d)} / {sum(x < -1e-9 for x in d)} / {sum(abs(x) <= 1e-9 for x in d)} | {len(d)} |")
