"""Optuna's side of `make bench-gp-interop` (bench/gpinterop/main.go).

Loads a study that auto-tune-vllm's `gp` sampler ran, with optuna.load_study,
and continues it in place with Optuna's own GPSampler for N trials, on a cheap
stand-in for the simulator (same parameters, same objectives, same SLO stored
as an Optuna constraint). Fails (exit 1, "FAIL: …" on stderr) unless the
GPSampler fitted on our trials: the relative search space it infers is exactly
the distributions we stored, the study has at least n_startup_trials (10)
complete trials, and every trial it asks takes all its parameters from the GP
(relative sampling), none from its random fallback. Prints JSON on stdout.

Usage: python gp_interop.py DB STUDY N SEED  (the venv of bench/sampler/gp-venv.sh: torch)
"""
import json
import logging
import math
import sys
import time

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

N_STARTUP = 10  # GPSampler's default, spelled out: our side must have run at least this many


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.msgs = []

    def emit(self, record):
        self.msgs.append(record.getMessage())


def suggest(trial, name, d):
    """The public suggest_* call that yields distribution d."""
    if isinstance(d, IntDistribution):
        return trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
    if isinstance(d, FloatDistribution):
        return trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)
    if isinstance(d, CategoricalDistribution):
        return trial.suggest_categorical(name, d.choices)
    fail(f"{name}: unknown distribution {d!r}")


def stand_in(p, max_model_len=8192, streams=128, out_tokens=128):
    """A cheap function of the simulator's flags, scaled like its results:
    (output tok/s, median request latency s, p95 TTFT ms), or None for a
    combination vLLM refuses (what the tool stores as infeasible, pruned)."""
    chunked = p["enable_chunked_prefill"]
    mnbt = p["max_num_batched_tokens"]
    if not chunked and mnbt < max_model_len:
        return None
    batch = min(p["max_num_seqs"], streams) * min(1.0, (p["gpu_memory_utilization"] - 0.3) / 0.4)
    block = {16: 1.0, 32: 0.99, 64: 0.97}.get(p["block_size"], 0.95)
    tps = (3000 + 4000 * math.sqrt(max(batch, 1) / streams)) * block * (1 + 0.03 * math.log2(mnbt / 2048))
    latency = streams * out_tokens / tps
    ttft = 300 + 1.5e6 / tps * (0.6 if chunked else 1.0) + 20 * max(0, streams - batch)
    return tps, latency, ttft


def main():
    db, name, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rec = Records()
    logging.getLogger("optuna").addHandler(rec)

    sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=N_STARTUP)
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}", sampler=sampler)
    before = study.get_trials(deepcopy=False)
    complete = [t for t in before if t.state == TrialState.COMPLETE]
    dists = {}
    for t in before:
        for k, d in t.distributions.items():
            if dists.setdefault(k, d) != d:
                fail(f"{k} is stored with two distributions: {dists[k]!r} and {d!r}")
    if not dists:
        fail("no trial of the study has parameters")
    if len(complete) < N_STARTUP:
        fail(f"{len(complete)} complete trials; GPSampler fits only from {N_STARTUP}")
    n_constraints = {len(t.constraints) for t in complete}
    if len(n_constraints) != 1:
        fail(f"complete trials carry different numbers of constraints {sorted(n_constraints)}; GPSampler raises on that")
    n_constraints = n_constraints.pop()

    space = sampler.infer_relative_search_space(study, None)
    want = {k: d for k, d in dists.items() if not d.single()}
    if not space:
        bare = [t.number for t in complete if not t.distributions]
        fail(f"GPSampler's relative search space is empty (Optuna's IntersectionSearchSpace): complete trials "
             f"{bare} have no parameters{' (the baseline: is_baseline)' if any(t.user_attrs.get('is_baseline') for t in complete if not t.distributions) else ''}, "
             f"so it would sample every parameter at random")
    if space != want:
        fail(f"GPSampler's search space {space} is not the one stored {want}")

    new = []
    for _ in range(n):
        t0 = time.perf_counter()
        trial = study.ask()
        params = {k: suggest(trial, k, d) for k, d in dists.items()}
        ask_s = time.perf_counter() - t0
        rel = trial.relative_params
        if set(rel) != set(want):
            fail(f"trial {trial.number}: GPSampler sampled {sorted(rel)} from the GP, want all of {sorted(want)} "
                 f"(fewer means its random start or fallback)")
        for k in want:
            if params[k] != rel[k]:
                fail(f"trial {trial.number}: {k} = {params[k]!r}, not the GP's {rel[k]!r}")
        r = stand_in(params)
        if r is None:
            for i in range(n_constraints):
                trial.set_constraint(str(i), 1.0)
            study.tell(trial, state=TrialState.PRUNED)
            new.append({"number": trial.number, "state": "PRUNED", "params": params, "ask_s": ask_s})
            continue
        tps, latency, ttft = r
        c = ttft / 2000 - 1  # the SLO p95 TTFT <= 2000 ms, > 0 = violated, as the tool stores it
        for i in range(n_constraints):
            trial.set_constraint(str(i), c)
        values = [tps, latency] if len(study.directions) == 2 else tps
        study.tell(trial, values)
        new.append({"number": trial.number, "state": "COMPLETE", "params": params, "values": [tps, latency],
                    "constraint": c, "ask_s": ask_s})

    after = study.get_trials(deepcopy=False)
    for t in after[len(before):]:
        if t.distributions != dists:
            fail(f"trial {t.number}: stored distributions {t.distributions} differ from ours {dists}")
        if not any(k.startswith("gp:relative_params") for k in t.system_attrs):
            fail(f"trial {t.number}: no gp:relative_params system attribute (GPSampler did not sample it relatively)")
    indep = [m for m in rec.msgs if "sampled independently" in m]
    if indep:
        fail(f"GPSampler fell back to independent sampling: {indep[0]}")
    optuna.load_study(study_name=name, storage=f"sqlite:///{db}")  # still loads
    json.dump({
        "optuna": optuna.__version__,
        "loaded": len(before),
        "complete": len(complete),
        "feasible": sum(1 for t in complete if all(v <= 0 for v in t.constraints.values())),
        "directions": [d.name for d in study.directions],
        "constraints": n_constraints,
        "space": sorted(want),
        "new": new,
        "warnings": rec.msgs,
    }, sys.stdout)


if __name__ == "__main__":
    main()
