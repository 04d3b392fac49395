"""The Python Optuna side of the PED-ANOVA interop test (tune/report).

  make DIR     create studies in DIR/studies.db with Optuna and print, as JSON,
               the importances Optuna's PedAnovaImportanceEvaluator gives them
               (normalised as get_param_importances returns them, and raw)

Run with the optuna venv's python (scripts/optuna-venv.sh).
"""
import json
import math
import os
import sys
import warnings

import optuna
from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.simplefilter("ignore")


def mixed(trial):
    """Every kind of distribution, with a clear ranking of influence."""
    x = trial.suggest_float("x", -5, 5)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    n = trial.suggest_int("n", 1, 64)
    b = trial.suggest_int("block", 1, 1024, log=True)
    g = trial.suggest_float("gpu_mem", 0.7, 0.95, step=0.01)
    s = trial.suggest_int("seqs", 8, 256, step=8)
    c = trial.suggest_categorical("dtype", ["auto", "fp8", None, 3])
    f = trial.suggest_categorical("prefix", [True, False])
    trial.suggest_float("noise", 0, 1)
    v = x * x + 3 * abs(math.log10(lr) + 3) + 0.05 * n + 0.3 * math.log2(b)
    v += 10 * (g - 0.9) ** 2 + 0.002 * s + {"auto": 0, "fp8": 2, None: 1, 3: 0.5}[c]
    return v + (1 if f else 0)


def conditional(trial):
    """One parameter with two distributions (regimes) and a third in a single
    trial (too few to count), one present only on one branch, one present in
    a single trial, one constant, one single choice."""
    kind = trial.suggest_categorical("kind", ["x", "y"])
    trial.suggest_float("const", 1.5, 1.5)
    trial.suggest_categorical("only", ["one"])
    if trial.number == 5:
        trial.suggest_int("rare", 0, 3)
    if kind == "x":
        u = trial.suggest_float("u", 0, 2 if trial.number == 3 else 1)
        return u + 1
    u = trial.suggest_float("u", 0, 20 if trial.number == 3 else 10)
    w = trial.suggest_int("w", 0, 20, step=2)
    return 0.1 * u + 0.2 * w


def ties(trial):
    """Few distinct objective values, so the quantile cut falls in a tie;
    some infinite values, which take no part."""
    a = trial.suggest_int("a", 0, 5)
    b = trial.suggest_categorical("b", ["p", "q", "r"])
    trial.suggest_float("c", 0.1, 10, log=True)
    if a == 5 and b == "r":
        return float("inf")
    return float(a // 2 + (b == "p"))


def two(trial):
    """Two objectives: throughput (maximise) and latency (minimise)."""
    x = trial.suggest_float("x", 0, 1)
    y = trial.suggest_int("y", 1, 32, log=True)
    z = trial.suggest_categorical("z", ["a", "b"])
    return 10 * x + (z == "a"), y + x


def constant(trial):
    trial.suggest_float("p", 0, 1)
    trial.suggest_int("q", 0, 3)
    return 1.0


def once(trial):
    trial.suggest_float("p", 0, 1)
    trial.suggest_int("q", 0, 3)
    return 2.0


STUDIES = [
    # name, objective, directions, sampler, trials
    ("mixed-min", mixed, ["minimize"], "random", 100),
    ("mixed-max", lambda t: -mixed(t), ["maximize"], "tpe", 60),
    ("conditional", conditional, ["minimize"], "random", 80),
    ("ties", ties, ["maximize"], "random", 40),
    ("two", two, ["maximize", "minimize"], "random", 50),
    ("constant", constant, ["minimize"], "random", 30),
    ("once", once, ["minimize"], "random", 1),
]

OPTIONS = [
    {"target_quantile": 0.1, "region_quantile": 1.0, "global": False},
    {"target_quantile": 0.2, "region_quantile": 0.5, "global": False},
    {"target_quantile": 0.25, "region_quantile": 1.0, "global": True},
]


def make(directory):
    storage = "sqlite:///" + os.path.join(directory, "studies.db")
    out = []
    for name, objective, directions, kind, n in STUDIES:
        sampler = (
            optuna.samplers.RandomSampler(seed=7)
            if kind == "random"
            else optuna.samplers.TPESampler(seed=7)
        )
        # Optimised in memory (fast), then written to SQLite in one go for
        # the Go side to read.
        study = optuna.create_study(study_name=name, directions=directions, sampler=sampler)
        study.optimize(objective, n_trials=n)
        optuna.copy_study(
            from_study_name=name, from_storage=study._storage, to_storage=storage
        )
        for i, direction in enumerate(directions):
            target = None
            if len(directions) > 1:
                # PED-ANOVA assumes lower is better for a target.
                target = (lambda i: lambda t: -t.values[i])(i) if direction == "maximize" else (lambda i: lambda t: t.values[i])(i)
            for o in OPTIONS:
                ev = lambda: PedAnovaImportanceEvaluator(
                    target_quantile=o["target_quantile"],
                    region_quantile=o["region_quantile"],
                    evaluate_on_local=not o["global"],
                )
                norm = get_param_importances(study, evaluator=ev(), target=target)
                raw = get_param_importances(study, evaluator=ev(), target=target, normalize=False)
                out.append({
                    "study": name,
                    "objective": i,
                    "direction": direction.upper(),
                    "options": o,
                    "importances": norm,
                    "raw": raw,
                    "order": list(norm),
                })
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "make":
        sys.exit(__doc__)
    make(sys.argv[2])
