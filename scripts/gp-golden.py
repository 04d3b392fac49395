"""Writes the values Optuna's own GP code gives on fixed data, for the Go
test that checks our port against them (tune/sampler/gp/optuna_test.go).

Run by `make gp-golden` in the sampler benchmark's virtualenv (optuna and
torch, bench/sampler/gp-venv.sh); the output is committed, so `make test`
needs neither. It uses Optuna's internals (optuna/_gp), the functions its
GPSampler calls, and records the Optuna and torch versions it ran.

Each case is a data set in the GP's normalised space (continuous columns in
[0, 1], categorical columns as choice indices) with standardised values:
  - loss: the negative log posterior of the kernel parameters and its
    gradient at given log parameters (what the MAP fit minimises);
  - map: the parameters Optuna's fit ends at, from its default start, and
    the loss there;
  - at the fitted parameters: the posterior mean and variance, log EI over
    the best value and log PI over a threshold at query points;
  - several objectives: the reference point, the boxes of the region no
    point dominates, and log EHVI at query points on fixed normal samples;
  - the maxima of log EI and log EHVI that Optuna's acquisition optimiser
    finds over 8 seeds (the second column stepped, as a discrete range);
  - spaces: normalised values of parameters on log and stepped ranges, and
    Optuna's rounding of normalised values onto their grids.
"""

import json
import sys

import numpy as np
import optuna
import torch
from optuna._gp import acqf, gp, optim_mixed, prior
from optuna._gp import search_space as gpss
from optuna._gp.qmc import sample_from_normal_sobol
from optuna.study._multi_objective import _is_pareto_front

MIN_NOISE = prior.DEFAULT_MINIMUM_NOISE_VAR


def standardize(v):
    return (v - v.mean(axis=0)) / np.maximum(1e-10, v.std(axis=0))


def data(rng, n, cats):
    """n points: continuous columns uniform (some on a grid), categorical
    columns as indices, and a smooth function of them plus a little noise."""
    d = len(cats)
    X = np.empty((n, d))
    for j, c in enumerate(cats):
        if c:
            X[:, j] = rng.randint(0, c, size=n)
        else:
            X[:, j] = rng.rand(n)
    if d > 1 and not cats[1]:
        # A stepped column (0, 0.125, ..., 1), normalised as Optuna does.
        X[:, 1] = gpss._normalize_one_param(np.round(X[:, 1] * 8) / 8, gpss._ScaleType.LINEAR, (0.0, 1.0), 0.125)
    w = rng.randn(d)
    y = np.sin(3 * X @ w) + 0.3 * (X[:, 0] - 0.5) ** 2 + 0.01 * rng.randn(n)
    return X, y


def space(cats):
    """The search space of a case's columns: categorical ones, the second
    stepped by 0.125, the others continuous in [0, 1]."""
    dists = {}
    for j, c in enumerate(cats):
        if c:
            dists[f"x{j}"] = optuna.distributions.CategoricalDistribution(list(range(c)))
        elif j == 1:
            dists[f"x{j}"] = optuna.distributions.FloatDistribution(0.0, 1.0, step=0.125)
        else:
            dists[f"x{j}"] = optuna.distributions.FloatDistribution(0.0, 1.0)
    return gpss.SearchSpace(dists)


def maxima(acq, warm):
    """The acquisition's maximum as Optuna's optimiser finds it, over seeds."""
    return [
        float(optim_mixed.optimize_acqf_mixed(acq, warmstart_normalized_params_array=warm, rng=np.random.RandomState(s))[1])
        for s in range(8)
    ]


def loss_and_grad(X, y, cat, raw):
    d = X.shape[1]
    t = torch.from_numpy(np.asarray(raw, dtype=np.float64)).requires_grad_(True)
    g = gp.GPRegressor(
        is_categorical=torch.from_numpy(cat),
        X_train=torch.from_numpy(X),
        y_train=torch.from_numpy(y),
        inverse_squared_lengthscales=torch.exp(t[:d]),
        kernel_scale=torch.exp(t[d]),
        noise_var=torch.exp(t[d + 1]) + MIN_NOISE,
    )
    loss = -g.marginal_log_likelihood() - prior.default_log_prior(g)
    loss.backward()
    return loss.item(), t.grad.numpy().tolist()


def fit(X, y, cat):
    return gp.fit_kernel_params(
        X=X,
        Y=y,
        is_categorical=cat,
        log_prior=prior.default_log_prior,
        minimum_noise=MIN_NOISE,
        deterministic_objective=False,
    )


def params(g):
    lam = g.inverse_squared_lengthscales.numpy()
    return {
        "inv_sq_lengthscales": lam.tolist(),
        "scale": g.kernel_scale.item(),
        "noise": g.noise_var.item(),
    }


def raw_of(g):
    p = params(g)
    return np.concatenate([np.log(p["inv_sq_lengthscales"]), [np.log(p["scale"]), np.log(p["noise"] - MIN_NOISE)]])


def queries(rng, n, cats, X):
    Q = np.empty((n, len(cats)))
    for j, c in enumerate(cats):
        Q[:, j] = rng.randint(0, c, size=n) if c else rng.rand(n)
    # One query on a training point: the posterior variance is the noise there.
    Q[0] = X[0]
    return Q


def single_case(name, seed, n, cats):
    rng = np.random.RandomState(seed)
    X, y = data(rng, n, cats)
    y = standardize(y)
    cat = np.array([c > 0 for c in cats])
    d = len(cats)
    raws = [np.concatenate([np.zeros(d + 1), [np.log(1 - 0.99 * MIN_NOISE)]])]
    raws += [rng.randn(d + 2) for _ in range(2)]
    loss = [{"raw": r.tolist(), "loss": v, "grad": gr} for r in raws for v, gr in [loss_and_grad(X, y, cat, r)]]
    g = fit(X, y, cat)
    Q = queries(rng, 6, cats, X)
    Qt = torch.from_numpy(Q)
    with torch.no_grad():
        mean, var = g.posterior(Qt)
        ei_acq = acqf.LogEI(g, space(cats), threshold=float(y.max()))
        ei = ei_acq.eval_acqf(Qt)
        pi = acqf.LogPI(g, None, threshold=0.3).eval_acqf(Qt)
    ei_max = maxima(ei_acq, X[np.argmax(y), None])
    return {
        "name": name,
        "categorical": [int(c) for c in cats],
        "X": X.tolist(),
        "Y": y.tolist(),
        "loss": loss,
        "map": {**params(g), "loss": loss_and_grad(X, y, cat, raw_of(g))[0]},
        "queries": Q.tolist(),
        "mean": mean.tolist(),
        "variance": var.tolist(),
        "log_ei": ei.tolist(),
        "log_ei_best": float(y.max()),
        "log_pi": pi.tolist(),
        "log_pi_threshold": 0.3,
        "log_ei_maxima": ei_max,
    }


def multi_case(name, seed, n, cats, m):
    rng = np.random.RandomState(seed)
    X, _ = data(rng, n, cats)
    # Objectives that trade off (points near a sphere's quarter), so that
    # many are on the front.
    a, b = np.pi / 2 * X[:, 0], np.pi / 2 * X[:, -1]
    r = 0.8 + 0.2 * rng.rand(n)
    if m == 2:
        Y = np.stack([np.cos(a), np.sin(a)], axis=1)
    else:
        Y = np.stack([np.cos(a) * np.cos(b), np.sin(a) * np.cos(b), np.sin(b)], axis=1)
    Y = Y * r[:, None]
    Y = standardize(Y)
    cat = np.array([c > 0 for c in cats])
    gprs = [fit(X, Y[:, j], cat) for j in range(m)]
    Q = queries(rng, 6, cats, X)
    qmc_seed = 7
    samples = sample_from_normal_sobol(dim=m, n_samples=128, seed=qmc_seed)
    Yt = torch.from_numpy(Y)
    ref = acqf._get_reference_point(Yt)
    lower, upper = acqf._get_non_dominated_box_bounds(Yt, ref)
    ehvi_acq = acqf.LogEHVI(gprs, space(cats), Yt, n_qmc_samples=128, qmc_seed=qmc_seed)
    with torch.no_grad():
        ehvi = ehvi_acq.eval_acqf(torch.from_numpy(Q))
    # Warm starts as the GPSampler gives them: points of the front (here the
    # first five, a fixed choice, where it picks five at random).
    warm = X[_is_pareto_front(-Y, assume_unique_lexsorted=False)][:5]
    ehvi_max = maxima(ehvi_acq, warm)
    return {
        "name": name,
        "categorical": [int(c) for c in cats],
        "X": X.tolist(),
        "Y": Y.tolist(),
        "fits": [params(g) for g in gprs],
        "reference": ref.tolist(),
        "box_lower": lower.tolist(),
        # JSON has no infinity: an unbounded side is written as the
        # largest float.
        "box_upper": np.nan_to_num(upper.numpy(), posinf=sys.float_info.max).tolist(),
        "samples": samples.tolist(),
        "queries": Q.tolist(),
        "log_ehvi": ehvi.tolist(),
        "log_ehvi_maxima": ehvi_max,
        "log_ehvi_warm": warm.tolist(),
    }


def spaces():
    dists = {
        "int_log": optuna.distributions.IntDistribution(1, 1024, log=True),
        "int_step": optuna.distributions.IntDistribution(8, 512, step=8),
        "float_step": optuna.distributions.FloatDistribution(0.7, 0.95, step=0.01),
        "float_log": optuna.distributions.FloatDistribution(1e-3, 1.0, log=True),
        "float": optuna.distributions.FloatDistribution(0.7, 0.95),
    }
    values = {
        "int_log": [1, 2, 7, 96, 1000, 1024],
        "int_step": [8, 16, 256, 504, 512],
        "float_step": [0.7, 0.71, 0.83, 0.95],
        "float_log": [1e-3, 0.01, 0.5, 1.0],
        "float": [0.7, 0.8123, 0.95],
    }
    u = [0.0, 0.001, 0.0312, 0.25, 0.4999, 0.5, 0.77, 0.999, 1.0]
    out = []
    for name, dist in dists.items():
        s = gpss.SearchSpace({name: dist})
        st, b, step = gpss._ScaleType(s._scale_types[0]), (s._bounds[0, 0], s._bounds[0, 1]), s._steps[0]
        norm = gpss._normalize_one_param(np.array(values[name], dtype=float), st, b, step)
        rounded = gpss._round_one_normalized_param(np.array(u), st, b, step) if step > 0 else np.array(u)
        out.append(
            {
                "name": name,
                "low": dist.low,
                "high": dist.high,
                "step": float(step),
                "log": bool(dist.log),
                "int": isinstance(dist, optuna.distributions.IntDistribution),
                "values": values[name],
                "normalized": norm.tolist(),
                "u": u,
                "rounded": rounded.tolist(),
                "unnormalized": [s.get_unnormalized_param(np.array([x]))[name] for x in rounded],
            }
        )
    return out


def main():
    torch.set_default_dtype(torch.float64)
    out = {
        "optuna": optuna.__version__,
        "torch": torch.__version__,
        "single": [
            single_case("3 continuous, 1 categorical, 10 points", 1, 10, [0, 0, 3, 0]),
            single_case("4 continuous, 2 categorical, 20 points", 2, 20, [0, 0, 0, 4, 2, 0]),
            single_case("5 continuous, 30 points", 3, 30, [0, 0, 0, 0, 0]),
            single_case("2 continuous, 1 categorical, 25 points", 4, 25, [0, 0, 2]),
        ],
        "multi": [
            multi_case("2 objectives, 15 points", 5, 15, [0, 0, 2, 0], 2),
            multi_case("3 objectives, 20 points", 6, 20, [0, 0, 2, 0], 3),
        ],
        "spaces": spaces(),
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
