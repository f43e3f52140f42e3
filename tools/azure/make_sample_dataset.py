#!/usr/bin/python3
"""Write a small SYNTHETIC dataset in the file format of the public Azure
Functions 2019 trace (AzurePublicDataset, azurefunctions-dataset2019), so the
trace tools can be used and tested without the real data. It is NOT the real
data: every number comes from a seeded random model.

Files written to --out (NN = --day, two digits):
  invocations_per_function_md.anon.dNN.csv
      HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440  (invocations per minute)
  function_durations_percentiles.anon.dNN.csv
      HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,
      percentile_Average_0,_1,_25,_50,_75,_99,_100            (ms)
  app_memory_percentiles.anon.dNN.csv
      HashOwner,HashApp,SampleCount,AverageAllocatedMb,
      AverageAllocatedMb_pct1,_pct5,_pct25,_pct50,_pct75,_pct95,_pct99,_pct100  (MB)

Model (all seeded, standard library only):
  - popularity: heavy tailed. The 3 most popular functions get 2-6 million
    invocations a day (thousands every minute); the others get
    10**Normal(1.3, 1.4) a day, so most are invoked rarely; about 3% are not
    invoked at all that day.
  - triggers: http 55%, timer 15%, queue 10%, event 7%, storage 6%,
    orchestration 5%, others 2%. Timer functions fire every P minutes
    (P in 1, 5, 10, 15, 30, 60, 720, 1440) with a fixed small count.
  - shape: other functions are Poisson per minute around a diurnal curve
    rate(m) = daily/1440 * (1 + A*sin(2*pi*(m - phase)/1440)), A in [0.2, 0.8];
    rare ones (< 200 a day) come in bursts of a few busy minutes.
  - durations: lognormal-ish; median ~ exp(Normal(ln 400, 1.5)) ms, spread
    s in [0.2, 1.0]: percentile p = median * exp(s * z_p). About 3% of the
    invoked functions have no durations row (as in the real data).
  - memory: per app, median ~ exp(Normal(ln 140, 0.5)) MB with percentiles
    around it; about 3% of apps have no memory row.
  - apps: --apps apps (default functions // 3) over functions // 6 owners;
    each app gets one function, the rest go to apps by preferential
    attachment (a few apps hold many functions).
  - ids: 64 hex digits (sha256 of a seeded string), like the real hashes.

usage: /usr/bin/python3 tools/azure/make_sample_dataset.py [--functions 200]
       [--apps A] [--seed 1] [--day 1] [--minutes 1440] --out DIR
"""
import argparse
import csv
import hashlib
import math
import os
import random
import sys

TRIGGERS = [("http", 55), ("timer", 15), ("queue", 10), ("event", 7), ("storage", 6),
            ("orchestration", 5), ("others", 2)]
PCTS_DUR = [("0", -3.0), ("1", -2.326), ("25", -0.674), ("50", 0.0), ("75", 0.674),
            ("99", 2.326), ("100", 3.0)]
PCTS_MEM = [("1", -2.326), ("5", -1.645), ("25", -0.674), ("50", 0.0), ("75", 0.674),
            ("95", 1.645), ("99", 2.326), ("100", 3.0)]


def hexid(seed, kind, i):
    return hashlib.sha256(f"azure-sample:{seed}:{kind}:{i}".encode()).hexdigest()


def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 50:  # normal approximation, good enough for a synthetic sample
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def weighted(rng, table):
    total = sum(w for _, w in table)
    x = rng.random() * total
    for name, w in table:
        x -= w
        if x < 0:
            return name
    return table[-1][0]


def per_minute_counts(rng, trigger, daily, minutes):
    counts = [0] * minutes
    if daily <= 0:
        return counts
    if trigger == "timer":
        period = rng.choice([1, 5, 10, 15, 30, 60, 720, 1440])
        each = max(1, int(round(daily * period / 1440.0))) if daily * period > 1440 else 1
        each = min(each, 20)
        start = rng.randrange(period)
        for m in range(start, minutes, period):
            counts[m] = each
        return counts
    amp, phase = rng.uniform(0.2, 0.8), rng.uniform(0, 1440)
    if daily < 200:  # rare: a few bursts of busy minutes
        left = daily
        while left > 0:
            centre, width = rng.randrange(minutes), rng.randint(1, 15)
            burst = min(left, max(1, int(rng.expovariate(1.0 / 6))))
            for _ in range(burst):
                m = min(minutes - 1, max(0, centre + int(rng.gauss(0, width))))
                counts[m] += 1
            left -= burst
        return counts
    for m in range(minutes):
        lam = daily / 1440.0 * (1 + amp * math.sin(2 * math.pi * (m - phase) / 1440.0))
        counts[m] = poisson(rng, lam)
    return counts


def fmt(x):
    """Integers as integers; other numbers with at most 3 decimals."""
    if abs(x - round(x)) < 1e-9:
        return str(int(round(x)))
    return f"{x:.3f}".rstrip("0").rstrip(".")


def generate(nfunc, napps, seed, minutes):
    rng = random.Random(f"azure-sample:{seed}")
    napps = max(1, min(napps, nfunc))
    nowners = max(1, nfunc // 6)
    owners = [hexid(seed, "owner", i) for i in range(nowners)]
    apps = [(owners[rng.randrange(nowners)], hexid(seed, "app", i)) for i in range(napps)]
    # one function per app, the rest by preferential attachment
    app_of = list(range(napps))
    sizes = [1] * napps
    for _ in range(nfunc - napps):
        a = rng.choices(range(napps), weights=sizes)[0]
        sizes[a] += 1
        app_of.append(a)
    rng.shuffle(app_of)

    funcs = []
    for i in range(nfunc):
        owner, app = apps[app_of[i]]
        trigger = weighted(rng, TRIGGERS)
        if i < 3:
            daily, trigger = int(rng.uniform(2e6, 6e6)), "http" if i != 1 else "queue"
        elif rng.random() < 0.03:
            daily = 0
        else:
            daily = max(1, int(10 ** rng.gauss(1.3, 1.4)))
            daily = min(daily, 400000)
        counts = per_minute_counts(rng, trigger, daily, minutes)
        funcs.append({"owner": owner, "app": app, "func": hexid(seed, "function", i),
                      "trigger": trigger, "counts": counts})
    # file order: not by popularity (the real files are not sorted either)
    rng.shuffle(funcs)

    durations = []
    for f in funcs:
        total = sum(f["counts"])
        if total == 0 or rng.random() < 0.03:
            continue
        median = min(600000.0, max(1.0, math.exp(rng.gauss(math.log(400), 1.5))))
        s = rng.uniform(0.2, 1.0)
        pct = {p: max(0.0, median * math.exp(s * z)) for p, z in PCTS_DUR}
        avg = median * math.exp(s * s / 2)
        row = {"HashOwner": f["owner"], "HashApp": f["app"], "HashFunction": f["func"],
               "Average": round(avg), "Count": total,
               "Minimum": int(pct["0"] * rng.uniform(0.3, 1.0)),
               "Maximum": int(math.ceil(pct["100"] * rng.uniform(1.0, 3.0)))}
        for p, _ in PCTS_DUR:
            row[f"percentile_Average_{p}"] = int(round(pct[p]))
        durations.append(row)

    memory = []
    for owner, app in apps:
        if rng.random() < 0.03:
            continue
        median = max(20.0, math.exp(rng.gauss(math.log(140), 0.5)))
        s = rng.uniform(0.02, 0.25)
        row = {"HashOwner": owner, "HashApp": app, "SampleCount": rng.randint(10, 20000),
               "AverageAllocatedMb": round(median * math.exp(s * s / 2))}
        for p, z in PCTS_MEM:
            row[f"AverageAllocatedMb_pct{p}"] = round(median * math.exp(s * z))
        memory.append(row)
    return funcs, durations, memory


def write_csv(path, header, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(r)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--functions", type=int, default=200, help="number of functions (default 200)")
    ap.add_argument("--apps", type=int, default=None, help="number of apps (default functions // 3)")
    ap.add_argument("--seed", default="1", help="random seed (default 1)")
    ap.add_argument("--day", type=int, default=1, help="day number for the file names (default 1)")
    ap.add_argument("--minutes", type=int, default=1440,
                    help="minute columns to write (default 1440, as the real files)")
    ap.add_argument("--out", required=True, help="output directory (created)")
    a = ap.parse_args(argv)
    if a.functions < 1 or not 1 <= a.minutes <= 1440 or not 1 <= a.day <= 14:
        ap.error("need --functions >= 1, 1 <= --minutes <= 1440, 1 <= --day <= 14")
    napps = a.apps if a.apps is not None else max(1, a.functions // 3)
    if napps < 1:
        ap.error("--apps must be >= 1")

    funcs, durations, memory = generate(a.functions, napps, a.seed, a.minutes)
    os.makedirs(a.out, exist_ok=True)
    dd = f"d{a.day:02d}"
    write_csv(os.path.join(a.out, f"invocations_per_function_md.anon.{dd}.csv"),
              ["HashOwner", "HashApp", "HashFunction", "Trigger"] + [str(m) for m in range(1, a.minutes + 1)],
              ([f["owner"], f["app"], f["func"], f["trigger"]] + f["counts"] for f in funcs))
    dh = ["HashOwner", "HashApp", "HashFunction", "Average", "Count", "Minimum", "Maximum"] + \
        [f"percentile_Average_{p}" for p, _ in PCTS_DUR]
    write_csv(os.path.join(a.out, f"function_durations_percentiles.anon.{dd}.csv"), dh,
              ([fmt(r[h]) if not isinstance(r[h], str) else r[h] for h in dh] for r in durations))
    mh = ["HashOwner", "HashApp", "SampleCount", "AverageAllocatedMb"] + \
        [f"AverageAllocatedMb_pct{p}" for p, _ in PCTS_MEM]
    write_csv(os.path.join(a.out, f"app_memory_percentiles.anon.{dd}.csv"), mh,
              ([fmt(r[h]) if not isinstance(r[h], str) else r[h] for h in mh] for r in memory))
    total = sum(sum(f["counts"]) for f in funcs)
    print(f"wrote {a.out}: {len(funcs)} functions in {napps} apps, {total} invocations over "
          f"{a.minutes} minutes, {len(durations)} duration rows, {len(memory)} memory rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
