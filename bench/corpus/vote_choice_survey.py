"""Individual vote choice from a pre-election survey.

Whether a respondent intends to vote for the incumbent, with demographics, and the state as the
grouping: the first stage of multilevel regression and poststratification (MRP).

Models:
    partial_pooling: Centered state intercepts a_j ~ Normal(mu_a, sigma_a).
    logistic_regression: Pooled logistic regression; the baseline every other model must beat.
    bayesian_mlp: One hidden layer with Normal priors on all weights, scaled by fan-in; trained with
        SVI.

Usage:
    python vote_choice_survey.py --models partial_pooling logistic_regression --num-samples 1000 --plot

Data: data/vote_choice_survey.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as random
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax.scipy.special import logsumexp

import numpyro
from numpyro import distributions as D
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS, Predictive, SVI, Trace_ELBO, init_to_median, init_to_sample, log_likelihood
from numpyro.infer.autoguide import AutoNormal
from numpyro.optim import Adam

DATA_PATH = os.environ.get("VOTE_CHOICE_SURVEY_DATA", "data/vote_choice_survey.csv")
FEATURES = ['age_std', 'income_std', 'education', 'urban', 'female']


# -------- data ----------------------------------------------------------------------------------


def simulate_vote_choice_survey(n=2500, n_states=50, seed=0):
    """Synthetic stand-in for vote_choice_survey.csv with the same columns and plausible effect sizes."""
    rng = np.random.default_rng(seed)
    state = rng.integers(0, n_states, size=n)
    group_effect = rng.normal(0.0, 0.5, size=n_states)
    frame = {"state": np.array([f"ST{g:03d}" for g in state])}
    linear = 0.1 + group_effect[state]
    for name, coef in zip(FEATURES, [0.2, 0.3, -0.4, -0.3, 0.1]):
        frame[name] = rng.normal(size=n)
        linear = linear + coef * frame[name]
    frame["vote_incumbent"] = rng.binomial(1, 1.0 / (1.0 + np.exp(-linear)))
    return pd.DataFrame(frame)


def standardize(X, mean=None, std=None):
    mean = X.mean(axis=0) if mean is None else mean
    std = X.std(axis=0) if std is None else std
    return (X - mean) / np.where(std > 0, std, 1.0), mean, std


def prepare_vote_choice_survey(df, features=FEATURES, test_fraction=0.2, seed=0):
    """Split by row, standardize with training statistics, code states as integers."""
    df = df.dropna().reset_index(drop=True)
    df["state"] = df["state"].astype("category")
    codes = df["state"].cat.codes.to_numpy()
    rng = np.random.default_rng(seed)
    is_test = rng.random(len(df)) < test_fraction
    X_raw = df[list(features)].to_numpy(dtype=np.float32)
    X_train, mean, std = standardize(X_raw[~is_test])
    X_test, _, _ = standardize(X_raw[is_test], mean, std)
    y = df["vote_incumbent"].to_numpy(dtype=np.int32)
    data = {
        "X": jnp.asarray(X_train),
        "y": jnp.asarray(y[~is_test]),
        "group": jnp.asarray(codes[~is_test]),
        "n_groups": int(codes.max()) + 1,
        "levels": list(df["state"].cat.categories),
        "features": list(features),
        "X_test": jnp.asarray(X_test),
        "y_test": jnp.asarray(y[is_test]),
        "group_test": jnp.asarray(codes[is_test]),
    }
    return data


def load_vote_choice_survey(path=DATA_PATH, seed=0):
    path = Path(path)
    if path.suffix == ".parquet" and path.exists():
        df = pd.read_parquet(path)
    elif path.exists():
        df = pd.read_csv(path, low_memory=False)
    else:
        df = simulate_vote_choice_survey(seed=seed)
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    return prepare_vote_choice_survey(df)


# -------- models --------------------------------------------------------------------------------


def partial_pooling(X, group, n_groups, y=None):
    """Centered state intercepts a_j ~ Normal(mu_a, sigma_a)."""
    mu_a = numpyro.sample("mu_a", D.Normal(0.0, 5.0))
    sigma_a = numpyro.sample("sigma_a", D.HalfNormal(0.5))
    with numpyro.plate("states", n_groups):
        a = numpyro.sample("a", D.Normal(mu_a, sigma_a))
    with numpyro.plate("features", X.shape[1]):
        beta = numpyro.sample("beta", D.Normal(0.0, 2.0))
    mu = a[group] + X @ beta
    with numpyro.plate("respondents", X.shape[0]):
        numpyro.sample("vote_incumbent", D.Bernoulli(logits=mu), obs=y)


def logistic_regression(X, group, n_groups, y=None):
    """Pooled logistic regression; the baseline every other model must beat."""
    del group, n_groups
    intercept = numpyro.sample("intercept", D.Normal(0.0, 1.5))
    beta = numpyro.sample("beta", D.Normal(jnp.zeros(X.shape[1]), 1.0).to_event(1))
    logits = numpyro.deterministic("logits", intercept + X @ beta)
    with numpyro.plate("respondents", X.shape[0]):
        numpyro.sample("vote_incumbent", D.Bernoulli(logits=logits), obs=y)


def bayesian_mlp(X, group, n_groups, y=None, hidden=32):
    """One hidden layer with Normal priors on all weights, scaled by fan-in; trained with SVI."""
    del group, n_groups
    n, p = X.shape
    w1 = numpyro.sample("w1", D.Normal(0.0, 1.0 / jnp.sqrt(p)).expand([p, hidden]).to_event(2))
    b1 = numpyro.sample("b1", D.Normal(0.0, 1.0).expand([hidden]).to_event(1))
    w2 = numpyro.sample("w2", D.Normal(0.0, 1.0 / jnp.sqrt(hidden)).expand([hidden]).to_event(1))
    b2 = numpyro.sample("b2", D.Normal(0.0, 1.0))
    h = jax.nn.relu(X @ w1 + b1)
    logits = h @ w2 + b2
    with numpyro.plate("respondents", n, subsample_size=min(n, 512)) as idx:
        numpyro.sample("vote_incumbent", D.Bernoulli(logits=logits[idx]), obs=None if y is None else y[idx])


# -------- inference -----------------------------------------------------------------------------


def run_mcmc(model, rng_key, settings, *model_args, **model_kwargs):
    kernel = NUTS(model, init_strategy=init_to_median(num_samples=15), max_tree_depth=settings.max_tree_depth)
    mcmc = MCMC(kernel, num_warmup=settings.num_warmup, num_samples=settings.num_samples,
                num_chains=settings.num_chains, chain_method="parallel", progress_bar=False)
    mcmc.run(rng_key, *model_args, **model_kwargs)
    if settings.verbose:
        mcmc.print_summary(exclude_deterministic=True)
    stats = summary(mcmc.get_samples(group_by_chain=True))
    worst = max(float(jnp.max(s["r_hat"])) for s in stats.values())
    if worst > 1.05:
        print(f"warning: max r_hat {worst:.3f} > 1.05, run longer or reparameterize")
    return mcmc


def run_svi(model, rng_key, settings, *model_args, **model_kwargs):
    """SVI with a hand-written loop: jit the update, stop once the loss has flattened."""
    guide = AutoNormal(model, init_loc_fn=init_to_sample)
    svi = SVI(model, guide, Adam(settings.learning_rate), loss=Trace_ELBO())
    rng_key_init, rng_key_post = random.split(rng_key)
    state = svi.init(rng_key_init, *model_args, **model_kwargs)
    update = jax.jit(lambda s: svi.update(s, *model_args, **model_kwargs))
    losses, window = [], 500
    for step in range(settings.num_steps):
        state, loss = update(state)
        losses.append(float(loss))
        if step >= 2 * window and step % window == 0:
            recent = np.mean(losses[-window:])
            before = np.mean(losses[-2 * window:-window])
            if abs(before - recent) < 1e-4 * abs(before):
                print(f"ELBO converged after {step} steps")
                break
    params = svi.get_params(state)
    samples = guide.sample_posterior(
        rng_key_post, params, *model_args, sample_shape=(settings.num_samples,), **model_kwargs
    )
    return samples, np.asarray(losses)


def fit_partial_pooling(data, rng_key, settings):
    mcmc = run_mcmc(partial_pooling, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    return mcmc.get_samples()


def fit_logistic_regression(data, rng_key, settings):
    samples, losses = run_svi(logistic_regression, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    print(f"logistic_regression: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


def fit_bayesian_mlp(data, rng_key, settings):
    samples, losses = run_svi(bayesian_mlp, rng_key, settings, data["X"], data["group"], data["n_groups"], y=data["y"])
    print(f"bayesian_mlp: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


# -------- evaluation and plots ------------------------------------------------------------------


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "partial_pooling": ModelSpec(
        partial_pooling,
        fit_partial_pooling,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="vote_incumbent",
        obs_key="y",
    ),
    "logistic_regression": ModelSpec(
        logistic_regression,
        fit_logistic_regression,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site="vote_incumbent",
        obs_key="y",
    ),
    "bayesian_mlp": ModelSpec(
        bayesian_mlp,
        fit_bayesian_mlp,
        lambda data: (data["X"], data["group"], data["n_groups"]),
        lambda data: dict(y=data["y"]),
        obs_site=None,
        obs_key=None,
    ),
}


def summarize(samples, sites=None, prob=0.9):
    """NumPyro's own summary (mean, sd, interval, n_eff, r_hat) for the small sites."""
    if next(iter(samples.values())).shape[0] < 4:  # a point estimate (MAP), not draws
        for name, value in samples.items():
            print(f"{name:>16}: {jnp.round(value[0], 3)}")
        return {}
    chosen = {
        name: value for name, value in samples.items()
        if (sites is None or name in sites) and jnp.size(value[0]) <= 10
    }
    stats = summary(chosen, prob=prob, group_by_chain=False)
    for name, s in stats.items():
        mean = jnp.atleast_1d(s["mean"])
        n_eff = jnp.atleast_1d(s["n_eff"])
        print(f"{name:>16}: mean {jnp.round(mean, 3)}  min n_eff {float(n_eff.min()):.0f}")
    return stats


def waic(model, samples, *model_args, **model_kwargs):
    """Widely applicable information criterion on the deviance scale (lower is better)."""
    loglik = log_likelihood(model, samples, *model_args, **model_kwargs)
    total = jnp.concatenate([v.reshape(v.shape[0], -1) for v in loglik.values()], axis=1)
    lppd = logsumexp(total, axis=0) - jnp.log(total.shape[0])
    p_waic = jnp.var(total, axis=0)
    return float(-2.0 * (lppd.sum() - p_waic.sum())), float(p_waic.sum())


def evaluate(name, spec, samples, data, rng_key, prob=0.9):
    """Posterior predictive checks against the observed data, where the model has an observed site."""
    metrics = {"model": name}
    print(f"== {name}")
    summarize(samples)
    if spec.obs_site is None:
        return metrics
    predictive = Predictive(spec.model, samples, return_sites=[spec.obs_site])
    y_rep = predictive(rng_key, *spec.args(data))[spec.obs_site]
    y = data[spec.obs_key]
    if y.shape[0] != y_rep.shape[1]:
        y = y[-y_rep.shape[1]:]  # models that condition on the first observations
    lo, hi = jnp.quantile(y_rep, jnp.array([(1 - prob) / 2, (1 + prob) / 2]), axis=0)
    metrics["coverage"] = float(jnp.mean((y >= lo) & (y <= hi)))
    metrics["rmse"] = float(jnp.sqrt(jnp.mean((y_rep.mean(0) - y) ** 2)))
    metrics["mean_rep"] = float(y_rep.mean())
    metrics["mean_obs"] = float(jnp.mean(y))
    try:
        metrics["waic"], metrics["p_waic"] = waic(spec.model, samples, *spec.args(data), **spec.kwargs(data))
    except (KeyError, TypeError) as err:
        print(f"{name}: WAIC not available ({err})")
    print(f"{name}: coverage {metrics['coverage']:.2f} (target {prob}), rmse {metrics['rmse']:.3f}")
    return metrics


def save_results(results, out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "metrics.json", "w") as f:
        json.dump(results, f, indent=2, default=float)
    table = pd.DataFrame(results.values()).set_index("model")
    table.to_csv(out_dir / "metrics.csv")
    print(table.round(3).to_string())


def prior_predictive_check(spec, data, rng_key, num_samples=200):
    """Do the priors generate data on the right scale? Prints prior predictive quantiles next to
    the observed range; run it before fitting anything new."""
    prior = Predictive(spec.model, num_samples=num_samples)(rng_key, *spec.args(data))
    if spec.obs_site is None or spec.obs_site not in prior:
        return None
    simulated = prior[spec.obs_site]
    observed = data[spec.obs_key]
    q = jnp.quantile(simulated, jnp.array([0.01, 0.5, 0.99]))
    print(f"prior predictive 1/50/99%: {q}, observed [{observed.min():.3g}, {observed.max():.3g}]")
    return simulated


def plot_group_effects(samples, levels, site, out_dir, max_groups=40):
    """Forest plot of the per-state effects, sorted by posterior mean."""
    if site not in samples or np.ndim(samples[site]) != 2:
        return
    values = np.asarray(samples[site])
    order = np.argsort(values.mean(0))[:max_groups]
    lo, hi = np.percentile(values[:, order], [5, 95], axis=0)
    fig, ax = plt.subplots(figsize=(6, 0.2 * len(order) + 1))
    ax.hlines(np.arange(len(order)), lo, hi, color="C0")
    ax.plot(values[:, order].mean(0), np.arange(len(order)), "o", color="C0")
    ax.set_yticks(np.arange(len(order)))
    ax.set_yticklabels([levels[i] for i in order], fontsize=7)
    ax.axvline(0.0, color="k", lw=0.5)
    ax.set_xlabel(site)
    fig.tight_layout()
    fig.savefig(Path(out_dir) / f"{site}_forest.png", dpi=150)
    plt.close(fig)


def plot_trace(samples, out_path, max_sites=6):
    """Trace and marginal histogram for the first few scalar sites."""
    scalars = [k for k, v in samples.items() if np.ndim(v) == 1][:max_sites]
    if not scalars:
        return
    fig, axes = plt.subplots(len(scalars), 2, figsize=(9, 1.8 * len(scalars)), squeeze=False)
    for row, name in zip(axes, scalars):
        row[0].plot(np.asarray(samples[name]), lw=0.5)
        row[0].set_ylabel(name)
        row[1].hist(np.asarray(samples[name]), bins=40, density=True, color="C0", alpha=0.7)
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--data", default=DATA_PATH, help="input file (simulated when missing)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("-n", "--num-samples", type=int, default=2000)
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-chains", type=int, default=4)
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--num-steps", type=int, default=5000)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--num-particles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/vote_choice_survey")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    numpyro.set_platform(settings.device)
    numpyro.set_host_device_count(settings.num_chains)
    data = load_vote_choice_survey(settings.data, seed=settings.seed)
    out_dir = Path(settings.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng_key = random.PRNGKey(settings.seed)
    results = {}
    for name in settings.models:
        spec = MODELS[name]
        rng_key, key_fit, key_eval = random.split(rng_key, 3)
        samples = spec.fit(data, key_fit, settings)
        results[name] = evaluate(name, spec, samples, data, key_eval)
        if settings.plot:
            for site in ("a", "u", "eps", "effects"):
                plot_group_effects(samples, data.get("levels", []), site, out_dir)
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)


if __name__ == "__main__":
    main(parse_args())
