"""tools/azure: the synthetic sample generator and the trace maker
(docs/azure_traces.md), on the shipped sample and on tiny hand-made datasets
with known answers. No worker needed."""
import csv
import filecmp
import os
import shutil
import subprocess
import tempfile
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PY = "/usr/bin/python3"
MAKE_TRACE = os.path.join(REPO, "tools", "azure", "make_trace.py")
MAKE_SAMPLE = os.path.join(REPO, "tools", "azure", "make_sample_dataset.py")
SAMPLE = os.path.join(REPO, "data", "azure-sample")
INV = "invocations_per_function_md.anon.d01.csv"
DUR = "function_durations_percentiles.anon.d01.csv"
MEM = "app_memory_percentiles.anon.d01.csv"
DUR_HEADER = ["HashOwner", "HashApp", "HashFunction", "Average", "Count", "Minimum", "Maximum",
              "percentile_Average_0", "percentile_Average_1", "percentile_Average_25",
              "percentile_Average_50", "percentile_Average_75", "percentile_Average_99",
              "percentile_Average_100"]
MEM_HEADER = ["HashOwner", "HashApp", "SampleCount", "AverageAllocatedMb"] + \
    [f"AverageAllocatedMb_pct{p}" for p in (1, 5, 25, 50, 75, 95, 99, 100)]


def run(script, *args):
    return subprocess.run([PY, script, *args], capture_output=True, text=True, timeout=120)


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def dur_row(owner, app, func, p50, maximum, p100=None):
    p100 = p50 * 2 if p100 is None else p100
    return [owner, app, func, p50, 10, 1, maximum, 1, 1, p50, p50, p50, p100, p100]


def mem_row(owner, app, pct50):
    return [owner, app, 100, pct50, pct50, pct50, pct50, pct50, pct50, pct50, pct50, pct50]


class Dataset:
    """A hand-made day-01 dataset: functions = [(owner, app, func, trigger, counts)]."""

    def __init__(self, root, functions, durations, memory, minutes=None):
        self.dir = os.path.join(root, "ds")
        os.makedirs(self.dir, exist_ok=True)
        minutes = minutes or len(functions[0][4])
        write_csv(os.path.join(self.dir, INV),
                  [["HashOwner", "HashApp", "HashFunction", "Trigger"] + [str(m) for m in range(1, minutes + 1)]]
                  + [[o, a, f, t] + list(c) for o, a, f, t, c in functions])
        write_csv(os.path.join(self.dir, DUR), [DUR_HEADER] + durations)
        write_csv(os.path.join(self.dir, MEM), [MEM_HEADER] + memory)


class TraceCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="azure-tools-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def make(self, dataset, *args, out="out", ok=True):
        out = os.path.join(self.tmp, out)
        r = run(MAKE_TRACE, "--dataset", dataset, "--out", out, *args)
        if ok:
            self.assertEqual(r.returncode, 0, f"make_trace failed:\n{r.stderr}")
        return r, out

    def load(self, out):
        trace = read_csv(os.path.join(out, "trace.csv"))
        meta = read_csv(os.path.join(out, "metadata.csv"))
        self.assertEqual(trace[0], ["func_name", "invoke_time_ms"])
        self.assertEqual(meta[0], ["func_name", "cold_dur_ms", "warm_dur_ms", "mem_mb", "mean_iat"])
        return [(n, float(t)) for n, t in trace[1:]], {r[0]: r[1:] for r in meta[1:]}

    def assert_sorted(self, rows):
        self.assertEqual(rows, sorted(rows, key=lambda r: (r[1], r[0])), "rows not sorted by time, name")

    def assert_minutes(self, rows, expected):
        """expected: {func_name: [count per window minute]}; every invocation of
        window minute m lies in [m*60000, (m+1)*60000)."""
        got = {n: [0] * len(c) for n, c in expected.items()}
        for name, t in rows:
            self.assertIn(name, got, f"unexpected function {name} in the trace")
            m = int(t // 60000)
            self.assertTrue(0 <= m < len(got[name]), f"{name} at {t} ms is outside the window")
            self.assertTrue(m * 60000 <= t < (m + 1) * 60000)
            got[name][m] += 1
        self.assertEqual(got, expected)


class SampleTest(TraceCase):
    def test_shipped_sample_is_reproducible_from_its_command(self):
        out = os.path.join(self.tmp, "regen")
        r = run(MAKE_SAMPLE, "--functions", "120", "--seed", "1", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in (INV, DUR, MEM):
            self.assertTrue(filecmp.cmp(os.path.join(out, name), os.path.join(SAMPLE, name), shallow=False),
                            f"{name} differs from the README's command's output")
        self.assertIn("synthetic", open(os.path.join(SAMPLE, "README.md")).read().lower())

    def test_sample_format_and_shape(self):
        inv = read_csv(os.path.join(SAMPLE, INV))
        self.assertEqual(inv[0][:4], ["HashOwner", "HashApp", "HashFunction", "Trigger"])
        self.assertEqual(inv[0][4:], [str(m) for m in range(1, 1441)])
        self.assertEqual(read_csv(os.path.join(SAMPLE, DUR))[0], DUR_HEADER)
        self.assertEqual(read_csv(os.path.join(SAMPLE, MEM))[0], MEM_HEADER)
        per_min = sorted((sum(int(x) for x in r[4:]) / 1440 for r in inv[1:]), reverse=True)
        self.assertGreater(per_min[0], 1000, "the most popular function should run thousands of times a minute")
        self.assertLess(per_min[len(per_min) // 2], 1, "most functions should be rare")
        self.assertLess(sum(os.path.getsize(os.path.join(SAMPLE, n)) for n in (INV, DUR, MEM)), 600_000)

    def test_trace_from_sample_matches_counts(self):
        start, dur = 600, 10
        _, out = self.make(SAMPLE, "--functions", "12", "--start-minute", str(start),
                           "--duration-min", str(dur))
        rows, meta = self.load(out)
        self.assertEqual(len(meta), 12)
        inv = read_csv(os.path.join(SAMPLE, INV))
        by_name = {r[2][:10]: [int(x) for x in r[4 + start:4 + start + dur]] for r in inv[1:]}
        expected = {n: by_name[n] for n in meta}
        self.assertEqual(len(rows), sum(sum(c) for c in expected.values()))
        self.assert_minutes(rows, expected)
        self.assert_sorted(rows)
        for n, c in expected.items():
            self.assertAlmostEqual(float(meta[n][3]), dur * 60000 / sum(c), places=2)


def selection_dataset(root):
    """7 eligible functions with window totals 70..10 over minutes 1-2, plus
    ineligible ones: no durations row, app without memory, none in the window."""
    fs, durs, mems = [], [], []
    for i, total in enumerate([40, 70, 10, 60, 30, 50, 20]):  # file order is not rank order
        f = f"elig{total:02d}xxxxxxxx"
        fs.append(("o1", f"app{i}", f, "http", [total - total // 2, total // 2, 0]))
        durs.append(dur_row("o1", f"app{i}", f, 100, 500))
        mems.append(mem_row("o1", f"app{i}", 200))
    fs.append(("o1", "appX", "nodurxxxxxxxx", "http", [500, 500, 0]))
    mems.append(mem_row("o1", "appX", 200))
    fs.append(("o1", "appY", "nomemxxxxxxxx", "timer", [400, 400, 0]))
    durs.append(dur_row("o1", "appY", "nomemxxxxxxxx", 100, 500))
    fs.append(("o1", "appZ", "outsidexxxxxx", "queue", [0, 0, 900]))
    durs.append(dur_row("o1", "appZ", "outsidexxxxxx", 100, 500))
    mems.append(mem_row("o1", "appZ", 200))
    return Dataset(root, fs, durs, mems)


class SelectionTest(TraceCase):
    def chosen(self, *args):
        ds = selection_dataset(self.tmp)
        _, out = self.make(ds.dir, "--duration-min", "2", *args)
        return sorted(self.load(out)[1])

    def test_quantiles_spans_ranks(self):
        # ranks 0..6 = 70,60,50,40,30,20,10; N=3 -> ranks 0, 3, 6
        self.assertEqual(self.chosen("--functions", "3"), ["elig10xxxx", "elig40xxxx", "elig70xxxx"])
        # N=4 -> floor(j*6/3) = 0, 2, 4, 6
        self.assertEqual(self.chosen("--functions", "4", "--select", "quantiles"),
                         ["elig10xxxx", "elig30xxxx", "elig50xxxx", "elig70xxxx"])

    def test_top(self):
        self.assertEqual(self.chosen("--functions", "3", "--select", "top"),
                         ["elig50xxxx", "elig60xxxx", "elig70xxxx"])

    def test_random_is_seeded_and_eligible_only(self):
        eligible = {f"elig{t}xxxx" for t in (10, 20, 30, 40, 50, 60, 70)}
        picks = {}
        for seed in ("1", "2", "3", "4"):
            a = self.chosen("--functions", "3", "--select", "random", "--seed", seed)
            b = self.chosen("--functions", "3", "--select", "random", "--seed", seed)
            self.assertEqual(a, b, "same seed must pick the same functions")
            self.assertEqual(len(set(a)), 3)
            self.assertLessEqual(set(a), eligible)
            picks[seed] = tuple(a)
        self.assertGreater(len(set(picks.values())), 1, "different seeds should pick differently")

    def test_more_than_eligible_takes_all(self):
        ds = selection_dataset(self.tmp)
        r, out = self.make(ds.dir, "--duration-min", "2", "--functions", "50")
        self.assertEqual(len(self.load(out)[1]), 7)
        self.assertIn("only 7 eligible", r.stderr)


class RulesTest(TraceCase):
    def dataset(self):
        fs = [
            ("o1", "appA", "aaaaaaaaaa01", "http", [3, 0, 7, 1, 0]),
            ("o1", "appA", "bbbbbbbbbb01", "timer", [1, 1, 1, 1, 1]),
            ("o1", "appA", "cccccccccc01", "queue", [0, 0, 0, 0, 0]),   # counts for memory only
            ("o2", "appB", "dddddddddd01", "event", [0, 2, 0, 0, 0]),
            ("o3", "appC", "eeeeeeeeee01", "http", [10, 0, 0, 0, 5]),
        ]
        durs = [
            dur_row("o1", "appA", "aaaaaaaaaa01", 123.4, 99999),     # cold capped at 30000
            dur_row("o1", "appA", "bbbbbbbbbb01", 50.5, "", 420.6),  # no Maximum: p100 -> 421
            dur_row("o2", "appB", "dddddddddd01", 0.2, 100),         # warm >= 1
            dur_row("o3", "appC", "eeeeeeeeee01", 800, 300),         # Maximum < warm: cold = warm
        ]
        mems = [mem_row("o1", "appA", 300.0), mem_row("o2", "appB", 10), mem_row("o3", "appC", 1000.6)]
        return Dataset(self.tmp, fs, durs, mems)

    def test_metadata_rules(self):
        ds = self.dataset()
        _, out = self.make(ds.dir, "--functions", "10", "--duration-min", "5")
        rows, meta = self.load(out)
        self.assertEqual(meta, {
            # name: cold, warm, mem (300 MB / 3 functions of appA), mean_iat = 300000 / count
            "aaaaaaaaaa": ["30000", "123", "100", f"{300000 / 11:.3f}"],
            "bbbbbbbbbb": ["421", "51", "100", "60000.000"],
            "dddddddddd": ["100", "1", "16", "150000.000"],
            "eeeeeeeeee": ["800", "800", "1001", "20000.000"],
        })
        self.assertEqual(len(rows), 11 + 5 + 2 + 15)
        self.assert_minutes(rows, {"aaaaaaaaaa": [3, 0, 7, 1, 0], "bbbbbbbbbb": [1, 1, 1, 1, 1],
                                   "dddddddddd": [0, 2, 0, 0, 0], "eeeeeeeeee": [10, 0, 0, 0, 5]})
        self.assert_sorted(rows)

    def test_cold_cap_option_and_window(self):
        ds = self.dataset()
        _, out = self.make(ds.dir, "--start-minute", "2", "--duration-min", "2", "--cold-cap-ms", "500")
        rows, meta = self.load(out)
        self.assertEqual(sorted(meta), ["aaaaaaaaaa", "bbbbbbbbbb"])  # the others have nothing in minutes 2-3
        self.assertEqual(meta["aaaaaaaaaa"][:2], ["500", "123"])
        self.assert_minutes(rows, {"aaaaaaaaaa": [7, 1], "bbbbbbbbbb": [1, 1]})

    def test_even_spreading_is_evenly_spaced(self):
        ds = self.dataset()
        _, out = self.make(ds.dir, "--duration-min", "5")
        rows, _ = self.load(out)
        first = [t for n, t in rows if n == "eeeeeeeeee" and t < 60000]
        self.assertEqual(len(first), 10)
        for a, b in zip(first, first[1:]):
            self.assertAlmostEqual(b - a, 6000, delta=0.002)

    def test_uniform_spreading_stays_in_minutes(self):
        ds = self.dataset()
        _, out = self.make(ds.dir, "--duration-min", "5", "--spread", "uniform")
        rows, _ = self.load(out)
        self.assert_minutes(rows, {"aaaaaaaaaa": [3, 0, 7, 1, 0], "bbbbbbbbbb": [1, 1, 1, 1, 1],
                                   "dddddddddd": [0, 2, 0, 0, 0], "eeeeeeeeee": [10, 0, 0, 0, 5]})
        self.assert_sorted(rows)

    def test_seed_determinism(self):
        ds = self.dataset()
        self.make(ds.dir, "--duration-min", "5", "--seed", "7", out="a")
        self.make(ds.dir, "--duration-min", "5", "--seed", "7", out="b")
        self.make(ds.dir, "--duration-min", "5", "--seed", "8", out="c")
        a, b, c = (os.path.join(self.tmp, d) for d in "abc")
        for f in ("trace.csv", "metadata.csv"):
            self.assertTrue(filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False), f)
        self.assertFalse(filecmp.cmp(os.path.join(a, "trace.csv"), os.path.join(c, "trace.csv"), shallow=False),
                         "a different seed should spread differently")
        self.assertTrue(filecmp.cmp(os.path.join(a, "metadata.csv"), os.path.join(c, "metadata.csv"), shallow=False))

    def test_name_collision_gets_app_suffix(self):
        fs = [("o1", "app111111", "samesame00AAA", "http", [1]),
              ("o1", "app222222", "samesame00BBB", "http", [2])]
        durs = [dur_row("o1", "app111111", "samesame00AAA", 10, 20),
                dur_row("o1", "app222222", "samesame00BBB", 10, 20)]
        mems = [mem_row("o1", "app111111", 100), mem_row("o1", "app222222", 100)]
        ds = Dataset(self.tmp, fs, durs, mems)
        _, out = self.make(ds.dir, "--duration-min", "1")
        rows, meta = self.load(out)
        self.assertEqual(sorted(meta), ["samesame00-app111", "samesame00-app222"])
        self.assertEqual(len(rows), 3)

    def test_max_rate_refuses_or_scales(self):
        ds = self.dataset()
        # busiest minute: minute 0 with 3+1+10 = 14 > 0.1/s * 60 = 6
        r, out = self.make(ds.dir, "--duration-min", "5", "--max-rate", "0.1", ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--max-rate", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "trace.csv")))
        r, out = self.make(ds.dir, "--duration-min", "5", "--max-rate", "0.1", "--scale")
        self.assertIn("scaled", r.stderr)
        rows, meta = self.load(out)
        per_min = [0] * 5
        for _, t in rows:
            per_min[int(t // 60000)] += 1
        self.assertLessEqual(max(per_min), 6)
        self.assertEqual(set(meta), {n for n, _ in rows})


    def test_max_fn_rate_thins_hot_minutes_and_keeps_every_function(self):
        ds = self.dataset()
        # per-function minutes over 2 (0.04/s * 60 = 2.4 -> 2) are capped at 2;
        # with --max-rate and --scale alone, the rare function would be dropped
        r, out = self.make(ds.dir, "--duration-min", "5", "--max-fn-rate", "0.04")
        self.assertIn("capped 4 function-minute(s) at 2 invocations", r.stderr)
        rows, meta = self.load(out)
        self.assertEqual(len(meta), 4)
        counts = {}
        for name, t in rows:
            counts.setdefault(name, [0] * 5)[int(t // 60000)] += 1
        self.assertEqual(sorted(sum(c) for c in counts.values()), [2, 4, 5, 5])
        self.assertTrue(all(v <= 2 for c in counts.values() for v in c), counts)
        r, out = self.make(ds.dir, "--duration-min", "5", "--max-fn-rate", "0", ok=False, out="zero")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--max-fn-rate must be positive", r.stderr)


class MalformedTest(TraceCase):
    def base(self):
        fs = [("o1", "appA", "aaaaaaaaaa01", "http", [1, 2, 3]),
              ("o1", "appA", "bbbbbbbbbb01", "http", [4, 5, 6])]
        return Dataset(self.tmp, fs, [dur_row("o1", "appA", "aaaaaaaaaa01", 10, 20),
                                      dur_row("o1", "appA", "bbbbbbbbbb01", 10, 20)],
                       [mem_row("o1", "appA", 100)])

    def assert_fails(self, ds, where):
        r, out = self.make(ds.dir, "--duration-min", "3", ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(where, r.stderr)
        self.assertEqual(os.listdir(out) if os.path.isdir(out) else [], [], "no output may be left")

    def edit(self, ds, name, fn):
        path = os.path.join(ds.dir, name)
        rows = read_csv(path)
        fn(rows)
        write_csv(path, rows)

    def test_good_base_works(self):
        _, out = self.make(self.base().dir, "--duration-min", "3")
        self.assertEqual(len(self.load(out)[0]), 21)

    def test_missing_column(self):
        ds = self.base()
        self.edit(ds, INV, lambda rows: [r.pop(2) for r in rows])
        self.assert_fails(ds, f"{INV}:1: missing column(s) 'HashFunction'")

    def test_missing_duration_column(self):
        ds = self.base()
        self.edit(ds, DUR, lambda rows: [r.pop(DUR_HEADER.index("percentile_Average_50")) for r in rows])
        self.assert_fails(ds, f"{DUR}:1: missing column(s) 'percentile_Average_50'")

    def test_non_numeric_count(self):
        ds = self.base()
        self.edit(ds, INV, lambda rows: rows[2].__setitem__(5, "x7"))
        self.assert_fails(ds, f"{INV}:3: column '2'")

    def test_non_numeric_duration_and_memory(self):
        ds = self.base()
        self.edit(ds, DUR, lambda rows: rows[1].__setitem__(DUR_HEADER.index("percentile_Average_50"), "abc"))
        self.assert_fails(ds, f"{DUR}:2: column 'percentile_Average_50'")
        ds = self.base()
        self.edit(ds, MEM, lambda rows: rows[1].__setitem__(MEM_HEADER.index("AverageAllocatedMb_pct50"), "-5"))
        self.assert_fails(ds, f"{MEM}:2: column 'AverageAllocatedMb_pct50'")

    def test_short_row(self):
        ds = self.base()
        self.edit(ds, INV, lambda rows: rows[1].pop())
        self.assert_fails(ds, f"{INV}:2: 6 fields, the header has 7")

    def test_missing_file(self):
        ds = self.base()
        os.unlink(os.path.join(ds.dir, MEM))
        self.assert_fails(ds, MEM)

    def test_window_beyond_file(self):
        ds = self.base()
        r, out = self.make(ds.dir, "--start-minute", "2", "--duration-min", "2", ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{INV}:1: missing minute column(s) '4'", r.stderr)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
