#!/usr/bin/env python3
"""Summarises the meta-vote study (MetaVoteStudy's results.csv, neighbors.csv, latency.csv) as Markdown tables.

Usage: summarize.py DIR [DIR...]   (one folder per model, as run.sh writes them)

Tables: accuracy mean ± std over tasks × seeds per model, removal, method and budget (0 = right after the cut); paired
differences against one-shot L2 on the same task, seed, removal and budget (wins / losses); steps to reach 95 % of the
dense model's accuracy on the same task and seed; CPU seconds per method run; parameters, MACs and latency; mask overlap
against task similarity. Only the Python standard library (the report is a build-time artefact, not run-time code)."""
import csv
import math
import os
import statistics
import sys
from collections import defaultdict

ORDER = ["k1", "k3", "k5", "random3", "l2", "taylor", "random", "iterative", "dense"]
LABEL = {"k1": "adapt K=1", "k3": "adapt K=3", "k5": "adapt K=5", "random3": "adapt, 3 random tasks", "l2": "one-shot L2",
         "taylor": "one-shot Taylor", "random": "random mask", "iterative": "iterative (own task)", "dense": "dense"}


def read(name):
    rows = []
    for d in sys.argv[1:]:
        p = os.path.join(d, name)
        if os.path.exists(p):
            rows += list(csv.DictReader(open(p)))
    return rows


def ms(xs):
    if not xs:
        return "–"
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{statistics.mean(xs):.2f} ± {sd:.2f}"


rows = read("results.csv")
acc = {(r["model"], r["ratio"], r["method"], int(r["steps"]), r["seed"], r["task"]): 100 * float(r["accuracy"]) for r in rows}
models = sorted({r["model"] for r in rows})
ratios = sorted({r["ratio"] for r in rows if r["ratio"] != "0"})
budgets = sorted({int(r["steps"]) for r in rows if r["method"] not in ("iterative",)})
pairs_done = sorted({(r["seed"], r["task"]) for r in rows})

print(f"Rows: {len(rows)}; models {', '.join(models)}; removal {', '.join(ratios)}; budgets {budgets}.\n")
for m in models:
    for ratio in ratios:
        cells = {(k[2], k[3]): [] for k in acc if k[0] == m and k[1] in (ratio, "0")}
        for k, v in acc.items():
            if k[0] == m and (k[1] == ratio or (k[1] == "0" and k[2] == "dense")):
                cells.setdefault((k[2], k[3]), []).append(v)
        n_runs = len({(k[4], k[5]) for k in acc if k[0] == m and k[1] == ratio})
        print(f"### {m}, {float(ratio) * 100:.0f} % of units removed ({n_runs} task × seed runs)\n")
        print("Test accuracy (%), mean ± std over tasks × seeds; steps 0 = right after the cut (BN recalibrated, head cut to the task):\n")
        print("| method | " + " | ".join(f"{b} steps" for b in budgets) + " | n |")
        print("|---|" + "---|" * (len(budgets) + 1))
        for method in ORDER:
            if method == "iterative":
                its = [v for k, v in acc.items() if k[0] == m and k[1] == ratio and k[2] == "iterative"]
                steps = sorted({k[3] for k in acc if k[0] == m and k[1] == ratio and k[2] == "iterative"})
                if its:
                    print(f"| iterative (own task, {', '.join(map(str, steps))} steps) | " + " | ".join("" for _ in budgets[:-1]) + f" | {ms(its)} | {len(its)} |")
                continue
            line = [ms(cells.get((method, b), [])) for b in budgets]
            n = max((len(cells.get((method, b), [])) for b in budgets), default=0)
            if n:
                print(f"| {LABEL[method]} | " + " | ".join(line) + f" | {n} |")
        print()
        print("Paired difference to one-shot L2 (pp, same task, seed and budget), mean ± std (wins / losses / ties):\n")
        print("| method | " + " | ".join(f"{b} steps" for b in budgets) + " |")
        print("|---|" + "---|" * len(budgets))
        for method in ORDER:
            if method in ("l2", "iterative"):
                continue
            cols = []
            for b in budgets:
                diffs = []
                for (seed, task) in pairs_done:
                    r_ = "0" if method == "dense" else ratio
                    a = acc.get((m, r_, method, b, seed, task))
                    l2 = acc.get((m, ratio, "l2", b, seed, task))
                    if a is not None and l2 is not None:
                        diffs.append(a - l2)
                w = sum(d > 1e-9 for d in diffs); lo = sum(d < -1e-9 for d in diffs)
                cols.append(f"{ms(diffs)} ({w}/{lo}/{len(diffs) - w - lo})" if diffs else "–")
            print(f"| {LABEL[method]} | " + " | ".join(cols) + " |")
        print()
        # Steps to 95 % of dense: the first budget at which the method reaches 95 % of the dense model's accuracy after
        # the longest budget on the same task and seed.
        top = budgets[-1]
        print(f"Runs reaching 95 % of the dense model's {top}-step accuracy (same task and seed), by budget; median steps to get there; CPU s per run (cut + {top} steps + evaluations):\n")
        print("| method | " + " | ".join(f"by {b}" for b in budgets if b > 0) + " | median steps | CPU s |")
        print("|---|" + "---|" * (len([b for b in budgets if b > 0]) + 2))
        cpu = defaultdict(list)
        for r in rows:
            if r["model"] == m and (r["ratio"] == ratio or r["method"] == "dense") and int(r["steps"]) == (top if r["method"] != "iterative" else int(r["steps"])):
                cpu[r["method"]].append(float(r["cpu_s"]))
        for method in ORDER:
            if method == "iterative":
                continue
            reached = {b: 0 for b in budgets if b > 0}
            firsts = []
            total = 0
            for (seed, task) in pairs_done:
                d = acc.get((m, "0", "dense", top, seed, task))
                r_ = "0" if method == "dense" else ratio
                if d is None or acc.get((m, r_, method, top, seed, task)) is None:
                    continue
                total += 1
                first = None
                for b in budgets:
                    v = acc.get((m, r_, method, b, seed, task))
                    if v is not None and v >= 0.95 * d and first is None:
                        first = b
                if first is not None:
                    firsts.append(first)
                for b in reached:
                    if first is not None and first <= b:
                        reached[b] += 1
            if total:
                med = f"{statistics.median(firsts):g}" if firsts else "never"
                print(f"| {LABEL[method]} | " + " | ".join(f"{reached[b]}/{total}" for b in reached) + f" | {med} | {ms(cpu[method])} |")
        its_cpu = [float(r["cpu_s"]) for r in rows if r["model"] == m and r["ratio"] == ratio and r["method"] == "iterative"]
        if its_cpu:
            print("| iterative (own task) | " + " | ".join("" for b in budgets if b > 0) + f" | | {ms(its_cpu)} |")
        print()

lat = read("latency.csv")
if lat:
    print("### Size and latency of the adapted models (ORT CPU, 1 thread, batch 1, median of 200 runs, first task and seed)\n")
    print("| model | removed | method | parameters | MACs | latency ms (p10–p90) |")
    print("|---|---|---|---|---|---|")
    for r in sorted(lat, key=lambda r: (r["model"], r["ratio"], ORDER.index(r["method"]) if r["method"] in ORDER else 99)):
        print(f"| {r['model']} | {float(r['ratio']) * 100:.0f} % | {LABEL.get(r['method'], r['method'])} | {int(r['params']):,} | {int(r['macs']):,} | "
              f"{float(r['median_ms']):.4f} ({float(r['p10_ms']):.4f}–{float(r['p90_ms']):.4f}) |")
    print()


def pearson(x, y):
    if len(x) < 3:
        return float("nan")
    mx, my = statistics.mean(x), statistics.mean(y)
    sx = math.sqrt(sum((a - mx) ** 2 for a in x)); sy = math.sqrt(sum((b - my) ** 2 for b in y))
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / (sx * sy) if sx > 0 and sy > 0 else float("nan")


nb = read("neighbors.csv")
if nb:
    print("### Mask overlap vs task similarity\n")
    print("`own` rows: each new task's own iterative keep-mask against every pool entry's (is a similar task's mask closer to\n"
          "the task's own?); `vote` rows: the adapted cut against the neighbours that voted for it.\n")
    print("| model | removed | pairs | similarity range | own-mask IoU: mean (min–max) | Pearson r (similarity, IoU) | IoU with the nearest 3 vs the farthest 3 |")
    print("|---|---|---|---|---|---|---|")
    groups = defaultdict(list)
    for r in nb:
        if r["own_iou"]:
            groups[(r["model"], r["ratio"])].append(r)
    for (m, ratio), rs in sorted(groups.items()):
        s = [float(r["similarity"]) for r in rs]; i = [float(r["own_iou"]) for r in rs]
        near = [float(r["own_iou"]) for r in rs if int(r["rank"]) <= 3]
        per_task = defaultdict(list)
        for r in rs:
            per_task[(r["seed"], r["task"])].append(r)
        far = []
        for v in per_task.values():
            far += [float(r["own_iou"]) for r in sorted(v, key=lambda r: int(r["rank"]))[-3:]]
        print(f"| {m} | {float(ratio) * 100:.0f} % | {len(rs)} | {min(s):.3f}–{max(s):.3f} | {statistics.mean(i):.3f} ({min(i):.3f}–{max(i):.3f}) | "
              f"{pearson(s, i):.2f} | {statistics.mean(near):.3f} vs {statistics.mean(far):.3f} |")
    print()
    print("| model | removed | method | mean IoU of the cut with its voters |")
    print("|---|---|---|---|")
    votes = defaultdict(list)
    for r in nb:
        if r["vote_iou"]:
            votes[(r["model"], r["ratio"], r["rank"].split(":")[0])].append(float(r["vote_iou"]))
    for (m, ratio, method), v in sorted(votes.items()):
        print(f"| {m} | {float(ratio) * 100:.0f} % | {LABEL.get(method, method)} | {statistics.mean(v):.3f} |")
    print()
