"""Item response models for a certification exam.

Right/wrong answers of candidates to exam items plus a Likert confidence rating per item; Rasch,
2PL and 3PL for the answers, a graded response model for the ratings.

Models:
    rasch: One-parameter logistic model; abilities fixed to unit scale for identification.
    two_pl: Two-parameter logistic IRT with a hierarchical prior on question difficulty.
    three_pl: Three-parameter logistic: discrimination, difficulty and a guessing floor per
        question.
    graded_response: Ordinal ratings: a common set of ordered cutpoints shifted by question location
        and scaled by question discrimination (Samejima's graded response model, simplified).

Usage:
    python exam_item_response.py --models rasch two_pl --num-samples 1000 --plot

Data: data/exam_responses.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from datetime import datetime
from pathlib import Path
from time import perf_counter

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax import random as jrandom
from jax.scipy.special import logsumexp

import numpyro
import numpyro.distributions as nd
from numpyro.diagnostics import hpdi
from numpyro.infer import MCMC, NUTS, Predictive, SVI, Trace_ELBO, init_to_sample, log_likelihood
from numpyro.infer.autoguide import AutoNormal
from numpyro.optim import Adam

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "exam_responses.csv")


def simulate_exam_item_response(n_persons=500, n_items=40, n_levels=5, seed=0,
                  missing_rate=0.1):
    """Long-format responses: one row per (candidate, question) pair that was answered."""
    rng = np.random.default_rng(seed)
    ability = rng.normal(0.0, 1.0, size=n_persons)
    difficulty = rng.normal(0.0, 1.2, size=n_items)
    discrimination = rng.lognormal(0.0, 0.3, size=n_items)
    person, item = np.meshgrid(np.arange(n_persons), np.arange(n_items), indexing="ij")
    person, item = person.ravel(), item.ravel()
    keep = rng.random(person.shape[0]) > missing_rate
    person, item = person[keep], item[keep]
    eta = discrimination[item] * (ability[person] - difficulty[item])
    correct = rng.binomial(1, 1.0 / (1.0 + np.exp(-eta)))
    cuts = np.linspace(-1.5, 1.5, n_levels - 1)
    latent = eta + rng.logistic(size=eta.shape[0])
    rating = np.searchsorted(cuts, latent)
    return pd.DataFrame({"candidate": person, "question": item, "correct": correct, "rating": rating})


def prepare_exam_item_response(df):
    person_codes, persons = pd.factorize(df["candidate"], sort=True)
    item_codes, items = pd.factorize(df["question"], sort=True)
    return {
        "person": jnp.asarray(person_codes),
        "item": jnp.asarray(item_codes),
        "correct": jnp.asarray(df["correct"].to_numpy(dtype=np.int32)),
        "rating": jnp.asarray(df["rating"].to_numpy(dtype=np.int32)),
        "n_persons": len(persons),
        "n_items": len(items),
        "n_levels": int(df["rating"].max()) + 1,
    }


def load_exam_item_response(path=DATA_PATH, seed=0):
    """Read exam_responses.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_exam_item_response(seed=seed)
    return prepare_exam_item_response(df)


def rasch(person, item, n_persons, n_items, correct=None):
    """One-parameter logistic model; abilities fixed to unit scale for identification."""
    with numpyro.plate("candidates", n_persons):
        theta = numpyro.sample("theta", nd.Normal(0.0, 1.0))
    with numpyro.plate("questions", n_items):
        b = numpyro.sample("b", nd.Normal(0.0, 1.5))
    with numpyro.plate("responses", person.shape[0]):
        numpyro.sample("correct", nd.Bernoulli(logits=theta[person] - b[item]), obs=correct)


def two_pl(person, item, n_persons, n_items, correct=None):
    """Two-parameter logistic IRT with a hierarchical prior on question difficulty."""
    mu_b = numpyro.sample("mu_b", nd.Normal(0.0, 1.0))
    sigma_b = numpyro.sample("sigma_b", nd.HalfNormal(1.0))
    with numpyro.plate("candidates", n_persons):
        theta = numpyro.sample("theta", nd.Normal(0.0, 1.0))
    with numpyro.plate("questions", n_items):
        a = numpyro.sample("a", nd.LogNormal(0.0, 0.5))
        b_raw = numpyro.sample("b_raw", nd.Normal(0.0, 1.0))
    b = numpyro.deterministic("b", mu_b + sigma_b * b_raw)
    eta = a[item] * (theta[person] - b[item])
    with numpyro.plate("responses", person.shape[0]):
        numpyro.sample("correct", nd.Bernoulli(logits=eta), obs=correct)


def three_pl(person, item, n_persons, n_items, correct=None):
    """Three-parameter logistic: discrimination, difficulty and a guessing floor per question."""
    mu_b = numpyro.sample("mu_b", nd.Normal(0.0, 1.0))
    sigma_b = numpyro.sample("sigma_b", nd.HalfNormal(1.0))
    with numpyro.plate("candidates", n_persons):
        theta = numpyro.sample("theta", nd.Normal(0.0, 1.0))
    with numpyro.plate("questions", n_items):
        a = numpyro.sample("a", nd.LogNormal(0.0, 0.5))
        b = numpyro.sample("b", nd.Normal(mu_b, sigma_b))
    eta = a[item] * (theta[person] - b[item])
    with numpyro.plate("questions_guessing", n_items):
        c = numpyro.sample("c", nd.Beta(5.0, 17.0))
    p = c[item] + (1.0 - c[item]) * jax.nn.sigmoid(eta)
    with numpyro.plate("responses", person.shape[0]):
        numpyro.sample("correct", nd.Bernoulli(probs=p), obs=correct)


def graded_response(person, item, n_persons, n_items, n_levels, rating=None):
    """Ordinal ratings: a common set of ordered cutpoints shifted by question location and scaled
    by question discrimination (Samejima's graded response model, simplified)."""
    with numpyro.plate("candidates", n_persons):
        theta = numpyro.sample("theta", nd.Normal(0.0, 1.0))
    with numpyro.plate("questions", n_items):
        a = numpyro.sample("a", nd.LogNormal(0.0, 0.5))
        b = numpyro.sample("b", nd.Normal(0.0, 1.0))
    cutpoints = numpyro.sample("cutpoints", nd.TransformedDistribution(
        nd.Normal(0.0, 3.0).expand([n_levels - 1]).to_event(1),
        nd.transforms.OrderedTransform()))
    with numpyro.plate("responses", person.shape[0]):
        eta = a[item] * (theta[person] - b[item])
        numpyro.sample("rating", nd.OrderedLogistic(eta, cutpoints), obs=rating)


def run_mcmc(model, rng_key, settings, *model_args, **model_kwargs):
    """NUTS with the settings from the command line; reports divergences."""
    kernel = NUTS(model, target_accept_prob=settings.target_accept)
    mcmc = MCMC(
        kernel,
        num_warmup=settings.num_warmup,
        num_samples=settings.num_samples,
        num_chains=settings.num_chains,
        progress_bar=settings.verbose,
    )
    start = perf_counter()
    mcmc.run(rng_key, *model_args, extra_fields=("diverging",), **model_kwargs)
    n_div = int(mcmc.get_extra_fields()["diverging"].sum())
    name = getattr(model, "__name__", type(model).__name__)
    print(f"{name}: {perf_counter() - start:.1f}s, {n_div} divergent transitions")
    return mcmc


def run_svi(model, rng_key, settings, *model_args, **model_kwargs):
    """SVI with a hand-written loop: jit the update, stop once the loss has flattened."""
    guide = AutoNormal(model, init_loc_fn=init_to_sample)
    svi = SVI(model, guide, Adam(settings.learning_rate), loss=Trace_ELBO())
    rng_key_init, rng_key_post = jrandom.split(rng_key)
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


def fit_rasch(data, rng_key, settings):
    samples, losses = run_svi(rasch, rng_key, settings, data["person"], data["item"], data["n_persons"], data["n_items"], correct=data["correct"])
    print(f"rasch: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


def fit_two_pl(data, rng_key, settings):
    """NUTS fit of `two_pl`; returns the posterior draws, deterministic sites included."""
    mcmc = run_mcmc(
        two_pl,
        rng_key,
        settings,
        data["person"], data["item"], data["n_persons"], data["n_items"],
        correct=data["correct"],
    )
    return mcmc.get_samples()


def fit_three_pl(data, rng_key, settings):
    samples, losses = run_svi(three_pl, rng_key, settings, data["person"], data["item"], data["n_persons"], data["n_items"], correct=data["correct"])
    print(f"three_pl: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


def fit_graded_response(data, rng_key, settings):
    mcmc = run_mcmc(graded_response, rng_key, settings, data["person"], data["item"], data["n_persons"], data["n_items"], data["n_levels"], rating=data["rating"])
    return mcmc.get_samples()


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "rasch": ModelSpec(
        rasch,
        fit_rasch,
        lambda data: (data["person"], data["item"], data["n_persons"], data["n_items"]),
        lambda data: dict(correct=data["correct"]),
        obs_site="correct",
        obs_key="correct",
    ),
    "two_pl": ModelSpec(
        two_pl,
        fit_two_pl,
        lambda data: (data["person"], data["item"], data["n_persons"], data["n_items"]),
        lambda data: dict(correct=data["correct"]),
        obs_site="correct",
        obs_key="correct",
    ),
    "three_pl": ModelSpec(
        three_pl,
        fit_three_pl,
        lambda data: (data["person"], data["item"], data["n_persons"], data["n_items"]),
        lambda data: dict(correct=data["correct"]),
        obs_site="correct",
        obs_key="correct",
    ),
    "graded_response": ModelSpec(
        graded_response,
        fit_graded_response,
        lambda data: (data["person"], data["item"], data["n_persons"], data["n_items"], data["n_levels"]),
        lambda data: dict(rating=data["rating"]),
        obs_site="rating",
        obs_key="rating",
    ),
}


def summarize(samples, sites=None, prob=0.9):
    """Mean, sd and highest-density interval for every scalar or vector site."""
    rows = []
    for name, value in samples.items():
        if sites is not None and name not in sites:
            continue
        value = jnp.reshape(value, (value.shape[0], -1))
        if value.shape[1] > 12:
            continue
        lo, hi = hpdi(value, prob)
        for j in range(value.shape[1]):
            label = name if value.shape[1] == 1 else f"{name}[{j}]"
            rows.append((label, float(value[:, j].mean()), float(value[:, j].std()), float(lo[j]), float(hi[j])))
    width = max((len(r[0]) for r in rows), default=4)
    print(f"{'site':>{width}} {'mean':>9} {'sd':>9} {'lo':>9} {'hi':>9}")
    for label, mean, sd, lo, hi in rows:
        print(f"{label:>{width}} {mean:9.3f} {sd:9.3f} {lo:9.3f} {hi:9.3f}")
    return rows


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
    """One JSON file per run, named by its start time, so reruns never overwrite results."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"metrics-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2, default=float))
    ranked = sorted(results.values(), key=lambda m: m.get("waic", -m.get("coverage", 0.0)))
    print(f"wrote {path}")
    for rank, metrics in enumerate(ranked, start=1):
        print(f"  {rank}. {metrics['model']}")


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
    parser.add_argument("-n", "--num-samples", type=int, default=500)
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-chains", type=int, default=1)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--num-steps", type=int, default=20000)
    parser.add_argument("--learning-rate", type=float, default=0.02)
    parser.add_argument("--num-particles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/exam_item_response")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    numpyro.set_platform(settings.device)
    if settings.num_chains > 1:
        numpyro.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {numpyro.__version__}, devices: {jax.devices()}")
    data = load_exam_item_response(settings.data, seed=settings.seed)
    keys = jrandom.split(jrandom.PRNGKey(settings.seed), 2 * len(settings.models))
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
