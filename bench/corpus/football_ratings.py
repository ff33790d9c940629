"""Team ratings from league results.

Scores of league matches over several seasons; Bradley-Terry on wins, Poisson attack/defence on
goals, and an ordered logistic on win/draw/loss.

Models:
    bradley_terry: P(home wins) = sigmoid(s_home - s_away + h); strengths share a scale sigma_s.
    attack_defence: Independent Poisson scores with team attack and defence effects (Baio &
        Blangiardo 2010).
    ordered_outcome: Away win / draw / home win as an ordered logistic in the strength difference.

Usage:
    python football_ratings.py --models bradley_terry attack_defence --num-samples 1000 --plot

Data: data/matches.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from pathlib import Path

import arviz as az
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax import random
from jax.scipy.special import logsumexp

import numpyro as npr
import numpyro.distributions as D
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS, Predictive, init_to_median, log_likelihood

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "matches.csv")


def simulate_football_ratings(n_teams=20, n_rounds=3, seed=0):
    """A double round robin per season with a home advantage."""
    rng = np.random.default_rng(seed)
    attack = rng.normal(0.0, 0.3, size=n_teams)
    defence = rng.normal(0.0, 0.3, size=n_teams)
    rows = []
    for _ in range(n_rounds):
        for home in range(n_teams):
            for away in range(n_teams):
                if home == away:
                    continue
                rate_home = np.exp(0.2 + 0.25 + attack[home] - defence[away])
                rate_away = np.exp(0.2 + attack[away] - defence[home])
                rows.append((f"FC{home:02d}", f"FC{away:02d}",
                             rng.poisson(rate_home), rng.poisson(rate_away)))
    return pd.DataFrame(rows, columns=["home", "away", "home_score", "away_score"])


def prepare_football_ratings(df):
    teams = sorted(set(df["home"]) | set(df["away"]))
    index = {team: i for i, team in enumerate(teams)}
    home = df["home"].map(index).to_numpy()
    away = df["away"].map(index).to_numpy()
    diff = df["home_score"].to_numpy() - df["away_score"].to_numpy()
    return {
        "home": jnp.asarray(home),
        "away": jnp.asarray(away),
        "home_score": jnp.asarray(df["home_score"].to_numpy(dtype=np.int32)),
        "away_score": jnp.asarray(df["away_score"].to_numpy(dtype=np.int32)),
        "home_win": jnp.asarray((diff > 0).astype(np.int32)),
        "outcome": jnp.asarray(np.sign(diff).astype(np.int32) + 1),
        "n_teams": len(teams),
        "teams": teams,
    }


def load_football_ratings(path=DATA_PATH, seed=0):
    """Read matches.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_football_ratings(seed=seed)
    return prepare_football_ratings(df)


def bradley_terry(home, away, n_teams, home_win=None):
    """P(home wins) = sigmoid(s_home - s_away + h); strengths share a scale sigma_s."""
    sigma_s = npr.sample("sigma_s", D.HalfNormal(1.0))
    h = npr.sample("home_advantage", D.Normal(0.0, 0.5))
    with npr.plate("teams", n_teams):
        s_raw = npr.sample("s_raw", D.Normal(0.0, 1.0))
    strength = npr.deterministic("strength", sigma_s * (s_raw - s_raw.mean()))
    with npr.plate("matches", home.shape[0]):
        npr.sample("home_win", D.Bernoulli(logits=strength[home] - strength[away] + h), obs=home_win)


def attack_defence(home, away, n_teams, home_score=None, away_score=None):
    """Independent Poisson scores with team attack and defence effects (Baio & Blangiardo 2010)."""
    home_adv = npr.sample("home_adv", D.Normal(0.2, 0.2))
    intercept = npr.sample("intercept", D.Normal(0.0, 1.0))
    sigma_att = npr.sample("sigma_att", D.HalfNormal(0.5))
    sigma_def = npr.sample("sigma_def", D.HalfNormal(0.5))
    with npr.plate("teams", n_teams):
        attack = npr.sample("attack", D.Normal(0.0, sigma_att))
        defence = npr.sample("defence", D.Normal(0.0, sigma_def))
    theta_home = jnp.exp(intercept + home_adv + attack[home] - defence[away])
    theta_away = jnp.exp(intercept + attack[away] - defence[home])
    with npr.plate("matches", home.shape[0]):
        npr.sample("home_score", D.Poisson(theta_home), obs=home_score)
        npr.sample("away_score", D.Poisson(theta_away), obs=away_score)


def ordered_outcome(home, away, n_teams, outcome=None):
    """Away win / draw / home win as an ordered logistic in the strength difference."""
    with npr.plate("teams", n_teams):
        strength = npr.sample("strength", D.Normal(0.0, 1.0))
    cutpoints = npr.sample(
        "cutpoints",
        D.TransformedDistribution(
            D.Normal(0.0, 2.0).expand([2]).to_event(1), D.transforms.OrderedTransform()
        ),
    )
    with npr.plate("matches", home.shape[0]):
        npr.sample("outcome", D.OrderedLogistic(strength[home] - strength[away], cutpoints), obs=outcome)


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


def fit_bradley_terry(data, rng_key, settings):
    """NUTS fit of `bradley_terry`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        bradley_terry,
        rng_key,
        settings,
        data["home"], data["away"], data["n_teams"],
        home_win=data["home_win"],
    )
    return mcmc.get_samples()


def fit_attack_defence(data, rng_key, settings):
    """NUTS fit of `attack_defence`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        attack_defence,
        rng_key,
        settings,
        data["home"], data["away"], data["n_teams"],
        home_score=data["home_score"], away_score=data["away_score"],
    )
    return mcmc.get_samples()


def fit_ordered_outcome(data, rng_key, settings):
    mcmc = run_mcmc(ordered_outcome, rng_key, settings, data["home"], data["away"], data["n_teams"], outcome=data["outcome"])
    return mcmc.get_samples()


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "bradley_terry": ModelSpec(
        bradley_terry,
        fit_bradley_terry,
        lambda data: (data["home"], data["away"], data["n_teams"]),
        lambda data: dict(home_win=data["home_win"]),
        obs_site="home_win",
        obs_key="home_win",
    ),
    "attack_defence": ModelSpec(
        attack_defence,
        fit_attack_defence,
        lambda data: (data["home"], data["away"], data["n_teams"]),
        lambda data: dict(home_score=data["home_score"], away_score=data["away_score"]),
        obs_site="home_score",
        obs_key="home_score",
    ),
    "ordered_outcome": ModelSpec(
        ordered_outcome,
        fit_ordered_outcome,
        lambda data: (data["home"], data["away"], data["n_teams"]),
        lambda data: dict(outcome=data["outcome"]),
        obs_site="outcome",
        obs_key="outcome",
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
    """Summaries, interval coverage and posterior predictive p-values for the mean and sd."""
    print(f"\n{name}\n" + "-" * len(name))
    summarize(samples)
    metrics = {"model": name, "n_draws": int(next(iter(samples.values())).shape[0])}
    if spec.obs_site is None:
        print("  no observed site to check")
        return metrics
    y_rep = np.asarray(Predictive(spec.model, samples)(rng_key, *spec.args(data))[spec.obs_site])
    y = np.asarray(data[spec.obs_key])[-y_rep.shape[1]:]
    lo, hi = np.quantile(y_rep, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    metrics["coverage"] = float(np.mean((lo <= y) & (y <= hi)))
    metrics["p_mean"] = float(np.mean(y_rep.mean(axis=1) > y.mean()))
    metrics["p_sd"] = float(np.mean(y_rep.std(axis=1) > y.std()))
    try:
        metrics["waic"], metrics["p_waic"] = waic(spec.model, samples, *spec.args(data), **spec.kwargs(data))
    except (KeyError, TypeError) as err:
        print(f"{name}: WAIC not available ({err})")
    for key in ("coverage", "p_mean", "p_sd"):
        print(f"  {key:>8}: {metrics[key]:.3f}")
    return metrics


def save_results(results, out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "metrics.json", "w") as f:
        json.dump(results, f, indent=2, default=float)
    table = pd.DataFrame(results.values()).set_index("model")
    table.to_csv(out_dir / "metrics.csv")
    print(table.round(3).to_string())


def plot_trace(samples, out_path, max_sites=6):
    """ArviZ trace plot of the first few scalar sites (one chain of draws)."""
    scalars = {k: np.asarray(v)[None] for k, v in samples.items() if np.ndim(v) == 1}
    if not scalars:
        return
    idata = az.from_dict(posterior=dict(list(scalars.items())[:max_sites]))
    axes = az.plot_trace(idata, compact=True, figsize=(10, 1.8 * min(len(scalars), max_sites)))
    axes.ravel()[0].figure.savefig(out_path, dpi=120, bbox_inches="tight")
    plt.close("all")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--data", default=DATA_PATH, help="input file (simulated when missing)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("-n", "--num-samples", type=int, default=1000)
    parser.add_argument("--num-warmup", type=int, default=1500)
    parser.add_argument("--num-chains", type=int, default=4)
    parser.add_argument("--target-accept", type=float, default=0.95)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/football_ratings")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(settings):
    npr.set_platform(settings.device)
    npr.set_host_device_count(settings.num_chains)
    data = load_football_ratings(settings.data, seed=settings.seed)
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
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)


if __name__ == "__main__":
    main(parse_args())
