"""Python Optuna's side of the sampler-quality benchmark (bench/sampler/main.go).

The surfaces here and in surfaces.go must stay identical, formula for formula.
Each (surface, sampler, seed) runs once for BUDGET trials; the Go side scores
every prefix it reports a budget for. Writes JSON {"version", "results",
"ask"} to OUT; "ask" times TPE (ASK=tpe) or GPSampler (ASK=gp).
Usage: python optuna_side.py SEEDS BUDGET OUT SURFACE,... SAMPLER,... ASK [STARTUPS]
STARTUPS (JSON {surface: [[params of each startup trial] per seed]}) makes
each study begin with those trials, enqueued: our gp's startup trials, so that
the two GP samplers are compared from the same start.
GPSampler needs scipy and torch, so it runs from the bench's own venv
(bench/sampler/gp-venv.sh).
"""
import json
import math
import sys
import time

import optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)

BLOCK = {8: 0.93, 16: 1.0, 32: 0.98, 64: 0.9}


def throughput(t):
    mns = t.suggest_int("max_num_seqs", 8, 512, step=8)
    mnbt = t.suggest_int("max_num_batched_tokens", 1024, 16384, step=1024)
    gmu = t.suggest_float("gpu_memory_utilization", 0.70, 0.95, step=0.01)
    block = t.suggest_categorical("block_size", [8, 16, 32, 64])
    dtype = t.suggest_categorical("kv_cache_dtype", ["auto", "fp8"])
    cap = (gmu - 0.6) * (2.0 if dtype == "fp8" else 1.0) * 1000
    batch = min(mns, cap / 10)
    f = 1000 * batch / (batch + 40) * mnbt / (mnbt + 4096) * math.exp(-mnbt / 40000)
    f *= BLOCK[block] * (0.97 if dtype == "fp8" else 1.0)
    f *= 1 - 0.5 * max(0.0, mns - cap / 10) / 512
    t.set_constraint("oom", gmu - 0.93 + (0.02 if block == 64 else 0.0))
    return f


def latency(t):
    mns = t.suggest_int("max_num_seqs", 1, 1024, log=True)
    chunked = t.suggest_categorical("enable_chunked_prefill", [True, False])
    lpt = t.suggest_int("long_prefill_token_threshold", 0, 8192, step=256)
    policy = t.suggest_categorical("scheduling_policy", ["fcfs", "priority"])
    lat = 50 + 2000 / (mns + 4) + 0.2 * mns + (0 if chunked else 30)
    lat += ((lpt - 2048) / 1024) ** 2 * (5 if chunked else 1)
    lat += -5 if policy == "priority" else 0
    return lat


def tradeoff(t):
    mns = t.suggest_int("max_num_seqs", 8, 512, step=8)
    mnbt = t.suggest_int("max_num_batched_tokens", 1024, 16384, step=1024)
    gmu = t.suggest_float("gpu_memory_utilization", 0.70, 0.95)
    prefix = t.suggest_categorical("enable_prefix_caching", [True, False])
    thr = 1000 * mns / (mns + 64) * mnbt / (mnbt + 2048) * (gmu / 0.95) * (1.1 if prefix else 1.0)
    lat = 20 + 0.15 * mns + mnbt / 400 + (-3 if prefix else 0) + 30 * (0.95 - gmu)
    t.set_constraint("oom", gmu - 0.93)
    return thr, lat


def tradeoff3(t):
    thr, lat = tradeoff(t)
    return thr, lat, 80 * t.params["gpu_memory_utilization"]


def slo(t):
    mns = t.suggest_int("max_num_seqs", 8, 512, step=8)
    mnbt = t.suggest_int("max_num_batched_tokens", 1024, 16384, step=1024)
    chunked = t.suggest_categorical("enable_chunked_prefill", [True, False])
    gmu = t.suggest_float("gpu_memory_utilization", 0.70, 0.95)
    thr = 1000 * mns / (mns + 48) * mnbt / (mnbt + 3072) * (0.85 + 0.6 * (gmu - 0.7))
    stall, pressure = mnbt / 8192, 0.15 * max(0.0, gmu - 0.85) / 0.1
    if chunked:
        stall *= 0.3
    else:
        thr *= 1.06
        pressure *= 2
    ttft_p95 = 0.35 + 0.0045 * mns + stall + pressure
    t.set_constraint("ttft_p95_slo", ttft_p95 - 1)
    return thr


SURFACES = {
    "throughput": (throughput, ["maximize"]),
    "latency": (latency, ["minimize"]),
    "tradeoff": (tradeoff, ["maximize", "minimize"]),
    "tradeoff3": (tradeoff3, ["maximize", "minimize", "minimize"]),
    "slo": (slo, ["maximize"]),
}


def feasible(t):
    return all(v <= 0 for v in t.constraints.values())


def make_sampler(name, seed):
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def run(surface, sampler_name, budget, seed, startup=()):
    """Every completed trial in order: its values and whether it is feasible."""
    fn, dirs = SURFACES[surface]
    study = optuna.create_study(directions=dirs, sampler=make_sampler(sampler_name, seed))
    for params in startup:
        study.enqueue_trial(params)
    study.optimize(fn, n_trials=budget)
    return [{"values": list(t.values), "feasible": feasible(t)} for t in study.trials if t.state.name == "COMPLETE"]


def ask_latency(n, sampler_name="tpe", storage=None):
    if sampler_name == "gp":
        sampler = optuna.samplers.GPSampler(seed=0, n_startup_trials=10)
    else:
        sampler = optuna.samplers.TPESampler(seed=0, n_startup_trials=10)
    study = optuna.create_study(direction="maximize", storage=storage, sampler=sampler)
    rnd = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    rnd.optimize(throughput, n_trials=n)
    study.add_trials(rnd.trials)
    times = []
    for _ in range(10 if sampler_name == "tpe" else 5):
        t0 = time.perf_counter()
        trial = study.ask()
        throughput(trial)  # the suggest_* calls are where Optuna samples
        times.append(time.perf_counter() - t0)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    times.sort()
    return times[len(times) // 2] * 1000


if __name__ == "__main__":
    import os
    import tempfile

    seeds, budget, out_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    surfaces = [x for x in sys.argv[4].split(",") if x] or list(SURFACES)
    samplers = sys.argv[5].split(",")
    ask = sys.argv[6]
    startups = {}
    if len(sys.argv) > 7:
        with open(sys.argv[7]) as f:
            startups = json.load(f)
    out = {"version": optuna.__version__, "results": [], "ask": []}
    for surface in surfaces:
        for s in samplers:
            if s == "nsga2" and len(SURFACES[surface][1]) == 1:
                continue
            for seed in range(seeds):
                t0 = time.perf_counter()
                trials = run(surface, s, budget, seed, startups.get(surface, [[]] * seeds)[seed])
                out["results"].append({"surface": surface, "sampler": s, "seed": seed, "trials": trials,
                                       "seconds": time.perf_counter() - t0})
                print(f"optuna {s} {surface} seed {seed}: {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    if ask == "tpe":
        for n in (100, 1000):
            db = os.path.join(tempfile.mkdtemp(), "ask.db")
            out["ask"].append({"sampler": "tpe", "n": n, "ms": ask_latency(n), "sqlite_ms": ask_latency(n, "tpe", f"sqlite:///{db}")})
    elif ask == "gp":
        out["ask"].append({"sampler": "gp", "n": 100, "ms": ask_latency(100, "gp")})
    with open(out_path, "w") as f:
        json.dump(out, f)
