#!/usr/bin/env python3
"""Mask overlap vs task similarity inside one task library: for every pair of entries, the pooled IoU of their kept units
(as ScoreMask.Agreement computes it) against the Jaccard overlap of their class sets and the cosine of their feature
embeddings. Usage: overlap.py LIB"""
import glob
import itertools
import json
import math
import statistics
import sys

entries = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + "/entries/*.json"))]

def iou(a, b):
    inter = union = 0
    for key, m in a["masks"].items():
        if key not in b["masks"]:
            continue
        x, y = set(m["kept"]), set(b["masks"][key]["kept"])
        inter += len(x & y)
        union += len(x | y)
    return inter / union if union else 1.0

def cosine(u, v):
    return sum(p * q for p, q in zip(u, v)) / math.sqrt(sum(p * p for p in u) * sum(q * q for q in v))

rows = []
for a, b in itertools.combinations(entries, 2):
    ca, cb = set(a["task"]["classes"]), set(b["task"]["classes"])
    rows.append((len(ca & cb) / len(ca | cb), cosine(a["embeddings"]["features"], b["embeddings"]["features"]), iou(a, b)))
print(f"{len(entries)} entries, {len(rows)} pairs")
print("| shared classes (Jaccard) | pairs | feature cosine (mean) | mask IoU (mean ± std) |")
print("|---|---|---|---|")
for j in sorted({r[0] for r in rows}):
    sel = [r for r in rows if r[0] == j]
    ious = [r[2] for r in sel]
    print(f"| {j:.2f} | {len(sel)} | {statistics.mean(r[1] for r in sel):.3f} | {statistics.mean(ious):.3f} ± {statistics.stdev(ious) if len(ious) > 1 else 0:.3f} |")
if len(rows) > 2:
    xs, ys = [r[1] for r in rows], [r[2] for r in rows]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    r = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))
    print(f"\nPearson r (feature cosine vs mask IoU) = {r:.3f}; all-pairs mask IoU {statistics.mean(ys):.3f} (min {min(ys):.3f}, max {max(ys):.3f})")
