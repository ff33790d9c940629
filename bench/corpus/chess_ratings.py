"""Paired-comparison ratings for a chess club.

Club games with the player having white as 'home'; strengths on the logit scale and a first-move
advantage.

Models:
    bradley_terry: P(home wins) = sigmoid(s_home - s_away + h); strengths share a scale sigma_s.
    ordered_outcome: Away win / draw / home win as an ordered logistic in the strength difference.

Usage:
    python chess_ratings.py --models bradley_terry ordered_outcome --num-samples 1000 --plot

Data: data/club_games.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from datetime import datetime
from pathlib import Path
from time import perf_counter

import arviz as az
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax import random

import numpyro
import numpyro.distributions as dist
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS, Predictive, SVI, Trace_ELBO, init_to_median, init_to_sample
from numpyro.infer.autoguide import AutoNormal
from numpyro.optim import Adam

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "club_games.csv")


def simulate_chess_ratings(n_teams=30, n_rounds=2, seed=0):
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
                rows.append((f"P{home:02d}", f"P{away:02d}",
                             rng.poisson(rate_home), rng.poisson(rate_away)))
    return pd.DataFrame(rows, columns=["home", "away", "home_score", "away_score"])


def prepare_chess_ratings(df):
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


def load_chess_ratings(path=DATA_PATH, seed=0):
    """Read club_games.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_chess_ratings(seed=seed)
    return prepare_chess_ratings(df)


def bradley_terry(home, away, n_teams, home_win=None):
    """P(home wins) = sigmoid(s_home - s_away + h); strengths share a scale sigma_s."""
    sigma_s = numpyro.sample("sigma_s", dist.HalfNormal(1.0))
    h = numpyro.sample("home_advantage", dist.Normal(0.0, 0.5))
    with numpyro.plate("players", n_teams):
        s_raw = numpyro.sample("s_raw", dist.Normal(0.0, 1.0))
    strength = numpyro.deterministic("strength", sigma_s * (s_raw - s_raw.mean()))
    with numpyro.plate("games", home.shape[0]):
        numpyro.sample("home_win", dist.Bernoulli(logits=strength[home] - strength[away] + h), obs=home_win)


def ordered_outcome(home, away, n_teams, outcome=None):
    """Away win / draw / home win as an ordered logistic in the strength difference."""
    with numpyro.plate("players", n_teams):
        strength = numpyro.sample("strength", dist.Normal(0.0, 1.0))
    cutpoints = numpyro.sample(
        "cutpoints",
        dist.TransformedDistribution(
            dist.Normal(0.0, 2.0).expand([2]).to_event(1), dist.transforms.OrderedTransform()
        ),
    )
    with numpyro.plate("games", home.shape[0]):
        numpyro.sample("outcome", dist.OrderedLogistic(strength[home] - strength[away], cutpoints), obs=outcome)


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


def fit_bradley_terry(data, rng_key, settings):
    samples, losses = run_svi(bradley_terry, rng_key, settings, data["home"], data["away"], data["n_teams"], home_win=data["home_win"])
    print(f"bradley_terry: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


def fit_ordered_outcome(data, rng_key, settings):
    """NUTS fit of `ordered_outcome`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        ordered_outcome,
        rng_key,
        settings,
        data["home"], data["away"], data["n_teams"],
        outcome=data["outcome"],
    )
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
    "ordered_outcome": ModelSpec(
        ordered_outcome,
        fit_ordered_outcome,
        lambda data: (data["home"], data["away"], data["n_teams"]),
        lambda data: dict(outcome=data["outcome"]),
        obs_site="outcome",
        obs_key="outcome",
    ),
}


def posterior_table(samples, prob=0.9, max_width=8):
    """Posterior summaries as a DataFrame, one row per scalar component."""
    rows = {}
    for name, value in samples.items():
        flat = np.asarray(value).reshape(value.shape[0], -1)
        if flat.shape[1] > max_width:
            continue
        lo, hi = np.quantile(flat, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
        for j in range(flat.shape[1]):
            key = name if flat.shape[1] == 1 else f"{name}[{j}]"
            rows[key] = {"mean": flat[:, j].mean(), "sd": flat[:, j].std(), "lo": lo[j], "hi": hi[j]}
    table = pd.DataFrame.from_dict(rows, orient="index")
    print(table.round(3).to_string())
    return table


def evaluate(name, spec, samples, data, rng_key, prob=0.9):
    """Posterior predictive checks against the observed data, where the model has an observed site."""
    metrics = {"model": name}
    print(f"== {name}")
    posterior_table(samples)
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
    print(f"{name}: coverage {metrics['coverage']:.2f} (target {prob}), rmse {metrics['rmse']:.3f}")
    return metrics


def save_results(results, out_dir):
    """One JSON file per run, named by its start time, so reruns never overwrite results."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"metrics-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2, default=float))
    ranked = sorted(results.values(), key=lambda m: m.get("waic", -m.get("coverage", 0.0)))
    print(f"wrote {path}")
    for rank, metrics in enumerate(ranked, start=1):
        print(f"  {rank}. {metrics['model']}")


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
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--num-steps", type=int, default=20000)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--num-particles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/chess_ratings")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    numpyro.set_platform(settings.device)
    if settings.num_chains > 1:
        numpyro.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {numpyro.__version__}, devices: {jax.devices()}")
    data = load_chess_ratings(settings.data, seed=settings.seed)
    keys = random.split(random.PRNGKey(settings.seed), 2 * len(settings.models))
    out_dir = Path(settings.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for i, name in enumerate(settings.models):
        spec = MODELS[name]
        start = perf_counter()
        samples = spec.fit(data, keys[2 * i], settings)
        metrics = evaluate(name, spec, samples, data, keys[2 * i + 1])
        metrics["seconds"] = perf_counter() - start
        results[name] = metrics
        if settings.plot:
            plot_trace(samples, out_dir / f"{name}_trace.png")
    save_results(results, out_dir)
    return results


if __name__ == "__main__":
    main()
