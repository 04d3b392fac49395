"""The Python Optuna side of the study-storage interop tests.

  read     DB STUDY          print the study as Optuna sees it (JSON)
  create   DB STUDY          create a study with Optuna (TPE, seeded) and run 6 trials
  continue DB STUDY N        load a study and run N more trials with Optuna's default sampler
  schema   DB                print the SQLite schema (one statement per line)

DB is a SQLite path or a storage URL (postgresql://…). Run with the optuna
venv's python (scripts/optuna-venv.sh).
"""
import json
import math
import sqlite3
import sys

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def url(db):
    return db if "://" in db else f"sqlite:///{db}"


def enc(v):
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def frozen(t):
    return {
        "number": t.number,
        "state": t.state.name,
        "params": t.params,
        "values": [enc(v) for v in t.values] if t.values is not None else None,
        "user_attrs": t.user_attrs,
        "system_attrs": t.system_attrs,
        "distributions": {k: optuna.distributions.distribution_to_json(d) for k, d in t.distributions.items()},
        "has_start": t.datetime_start is not None,
        "has_complete": t.datetime_complete is not None,
    }


def read(db, name):
    s = optuna.load_study(study_name=name, storage=url(db))
    out = {
        "directions": [d.name for d in s.directions],
        "trials": [frozen(t) for t in s.get_trials(deepcopy=False)],
        "user_attrs": s.user_attrs,
        "metric_names": s.metric_names,
    }
    if len(s.directions) == 1:
        try:
            out["best_trial"] = s.best_trial.number
        except ValueError:
            out["best_trial"] = None
    out["best_trials"] = sorted(t.number for t in s.best_trials)
    return out


def objective(trial):
    x = trial.suggest_int("max_num_seqs", 8, 256, step=8)
    y = trial.suggest_float("gpu_memory_utilization", 0.7, 0.95, step=0.01)
    c = trial.suggest_categorical("kv_cache_dtype", ["auto", "fp8", None])
    if trial.number == 3:
        raise RuntimeError("simulated server crash")
    return x * y + (5 if c == "fp8" else 0)


def create(db, name):
    s = optuna.create_study(study_name=name, storage=url(db), direction="maximize",
                            sampler=optuna.samplers.TPESampler(seed=1))
    s.set_user_attr("model", "facebook/opt-125m")
    s.optimize(objective, n_trials=6, catch=(RuntimeError,))
    return read(db, name)


def cont(db, name, n):
    s = optuna.load_study(study_name=name, storage=url(db))
    dists = {}
    for t in s.trials:  # the baseline (trial 0) samples nothing
        dists.update(t.distributions)

    def f(trial):
        vals = [trial._suggest(k, d) for k, d in dists.items()]
        nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
        base = float(sum(nums))
        return base if len(s.directions) == 1 else [base, -base]

    s.optimize(f, n_trials=n)
    return read(db, name)


def schema(db):
    con = sqlite3.connect(db)
    return [r[0] for r in con.execute("select sql from sqlite_master where sql is not null order by name")]


if __name__ == "__main__":
    cmd, db = sys.argv[1], sys.argv[2]
    if cmd == "read":
        res = read(db, sys.argv[3])
    elif cmd == "create":
        res = create(db, sys.argv[3])
    elif cmd == "continue":
        res = cont(db, sys.argv[3], int(sys.argv[4]))
    else:
        res = schema(db)
    json.dump(res, sys.stdout, default=str)
