"""Python Optuna's side of the sampler-quality benchmark (bench/sampler/main.go).

The surfaces here and in surfaces.go must stay identical, formula for formula.
Writes JSON {"version", "results", "ask"} to OUT.
Usage: python optuna_side.py SEEDS BUDGETS OUT [SURFACE,...]
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


SURFACES = {
    "throughput": (throughput, ["maximize"]),
    "latency": (latency, ["minimize"]),
    "tradeoff": (tradeoff, ["maximize", "minimize"]),
}


def feasible(t):
    return all(v <= 0 for v in t.constraints.values())


def run(surface, sampler_name, budget, seed):
    fn, dirs = SURFACES[surface]
    if sampler_name == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed)
    else:
        sampler = optuna.samplers.NSGAIISampler(seed=seed)
    study = optuna.create_study(directions=dirs, sampler=sampler)
    study.optimize(fn, n_trials=budget)
    trials = [t for t in study.trials if t.state.name == "COMPLETE" and feasible(t)]
    return [list(t.values) for t in trials]


def ask_latency(n, storage=None):
    study = optuna.create_study(direction="maximize", storage=storage, sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=10))
    rnd = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    rnd.optimize(throughput, n_trials=n)
    study.add_trials(rnd.trials)
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        trial = study.ask()
        throughput(trial)  # the suggest_* calls are where Optuna samples
        times.append(time.perf_counter() - t0)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    times.sort()
    return times[len(times) // 2] * 1000


if __name__ == "__main__":
    seeds = int(sys.argv[1])
    budgets = [int(b) for b in sys.argv[2].split(",")]
    out = {"version": optuna.__version__, "results": [], "ask": []}
    only = sys.argv[4].split(",") if len(sys.argv) > 4 and sys.argv[4] else list(SURFACES)
    for surface in only:
        samplers = ["tpe", "nsga2"] if surface == "tradeoff" else ["tpe"]
        for s in samplers:
            for budget in budgets:
                for seed in range(seeds):
                    out["results"].append({"surface": surface, "sampler": s, "budget": budget, "seed": seed,
                                           "values": run(surface, s, budget, seed)})
    import os, tempfile
    for n in (100, 1000):
        db = os.path.join(tempfile.mkdtemp(), "ask.db")
        out["ask"].append({"n": n, "ms": ask_latency(n), "sqlite_ms": ask_latency(n, f"sqlite:///{db}")})
    with open(sys.argv[3], "w") as f:
        json.dump(out, f)
