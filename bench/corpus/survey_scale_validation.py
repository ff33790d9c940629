"""Validating a wellbeing questionnaire.

Responses to a 20-item wellbeing questionnaire on a 4-point scale; the graded response model is
the main model, the dichotomized 2PL a robustness check.

Models:
    graded_response: Ordinal ratings: a common set of ordered cutpoints shifted by statement
        location and scaled by statement discrimination (Samejima's graded response model,
        simplified).
    two_pl: Two-parameter logistic IRT with a hierarchical prior on statement difficulty.

Usage:
    python survey_scale_validation.py --models graded_response two_pl --num-samples 1000 --plot

Data: data/wellbeing.csv; when the file is missing a simulated data set with the same
columns is used, so the script always runs end to end.
"""

import argparse
import json
import os
from collections import namedtuple
from pathlib import Path
from time import perf_counter

import arviz as az
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jax import random

import numpyro as npr
import numpyro.distributions as D
from numpyro.diagnostics import hpdi
from numpyro.infer import MCMC, NUTS, Predictive, SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoMultivariateNormal
from numpyro.optim import ClippedAdam

DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "wellbeing.csv")


def simulate_survey_scale_validation(n_persons=800, n_items=20, n_levels=4, seed=0,
                  missing_rate=0.1):
    """Long-format responses: one row per (respondent, statement) pair that was answered."""
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
    return pd.DataFrame({"respondent": person, "statement": item, "correct": correct, "rating": rating})


def prepare_survey_scale_validation(df):
    person_codes, persons = pd.factorize(df["respondent"], sort=True)
    item_codes, items = pd.factorize(df["statement"], sort=True)
    return {
        "person": jnp.asarray(person_codes),
        "item": jnp.asarray(item_codes),
        "correct": jnp.asarray(df["correct"].to_numpy(dtype=np.int32)),
        "rating": jnp.asarray(df["rating"].to_numpy(dtype=np.int32)),
        "n_persons": len(persons),
        "n_items": len(items),
        "n_levels": int(df["rating"].max()) + 1,
    }


def load_survey_scale_validation(path=DATA_PATH, seed=0):
    """Read wellbeing.csv if it is there; otherwise simulate data with the same layout."""
    if path is not None and os.path.exists(path):
        df = pd.read_csv(path)
    else:
        print(f"{path} not found: using simulated data")
        df = simulate_survey_scale_validation(seed=seed)
    return prepare_survey_scale_validation(df)


def graded_response(person, item, n_persons, n_items, n_levels, rating=None):
    """Ordinal ratings: a common set of ordered cutpoints shifted by statement location and scaled
    by statement discrimination (Samejima's graded response model, simplified)."""
    with npr.plate("respondents", n_persons):
        theta = npr.sample("theta", D.Normal(0.0, 1.0))
    with npr.plate("statements", n_items):
        a = npr.sample("a", D.LogNormal(0.0, 0.5))
        b = npr.sample("b", D.Normal(0.0, 1.0))
    cutpoints = npr.sample("cutpoints", D.TransformedDistribution(
        D.Normal(0.0, 3.0).expand([n_levels - 1]).to_event(1),
        D.transforms.OrderedTransform()))
    with npr.plate("responses", person.shape[0]):
        eta = a[item] * (theta[person] - b[item])
        npr.sample("rating", D.OrderedLogistic(eta, cutpoints), obs=rating)


def two_pl(person, item, n_persons, n_items, correct=None):
    """Two-parameter logistic IRT with a hierarchical prior on statement difficulty."""
    mu_b = npr.sample("mu_b", D.Normal(0.0, 100.0))
    sigma_b = npr.sample("sigma_b", D.HalfNormal(1.0))
    with npr.plate("respondents", n_persons):
        theta = npr.sample("theta", D.Normal(0.0, 1.0))
    with npr.plate("statements", n_items):
        a = npr.sample("a", D.LogNormal(0.0, 0.5))
        b = npr.sample("b", D.Normal(mu_b, sigma_b))
    eta = a[item] * (theta[person] - b[item])
    with npr.plate("responses", person.shape[0]):
        npr.sample("correct", D.Bernoulli(logits=eta), obs=correct)


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


def run_svi(model, rng_key, settings, *model_args, guide_class=AutoMultivariateNormal, **model_kwargs):
    """Fit an autoguide and return posterior draws in the same format as MCMC."""
    guide = guide_class(model)
    svi = SVI(model, guide, ClippedAdam(settings.learning_rate), Trace_ELBO(num_particles=settings.num_particles))
    rng_key, rng_key_post = random.split(rng_key)
    result = svi.run(rng_key, settings.num_steps, *model_args, progress_bar=False, **model_kwargs)
    samples = guide.sample_posterior(
        rng_key_post, result.params, *model_args, sample_shape=(settings.num_samples,), **model_kwargs
    )
    return samples, result.losses


def fit_graded_response(data, rng_key, settings):
    mcmc = run_mcmc(graded_response, rng_key, settings, data["person"], data["item"], data["n_persons"], data["n_items"], data["n_levels"], rating=data["rating"])
    return mcmc.get_samples()


def fit_two_pl(data, rng_key, settings):
    samples, losses = run_svi(two_pl, rng_key, settings, data["person"], data["item"], data["n_persons"], data["n_items"], correct=data["correct"])
    print(f"two_pl: final loss {float(losses[-1]):.1f} after {len(losses)} steps")
    return samples


ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])

MODELS = {
    "graded_response": ModelSpec(
        graded_response,
        fit_graded_response,
        lambda data: (data["person"], data["item"], data["n_persons"], data["n_items"], data["n_levels"]),
        lambda data: dict(rating=data["rating"]),
        obs_site="rating",
        obs_key="rating",
    ),
    "two_pl": ModelSpec(
        two_pl,
        fit_two_pl,
        lambda data: (data["person"], data["item"], data["n_persons"], data["n_items"]),
        lambda data: dict(correct=data["correct"]),
        obs_site="correct",
        obs_key="correct",
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
    parser.add_argument("-n", "--num-samples", type=int, default=2000)
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-chains", type=int, default=4)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--num-steps", type=int, default=5000)
    parser.add_argument("--learning-rate", type=float, default=0.02)
    parser.add_argument("--num-particles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--out", default="results/survey_scale_validation")
    parser.add_argument("--plot", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main():
    settings = parse_args()
    npr.set_platform(settings.device)
    if settings.num_chains > 1:
        npr.set_host_device_count(settings.num_chains)
    print(f"jax {jax.__version__}, numpyro {npr.__version__}, devices: {jax.devices()}")
    data = load_survey_scale_validation(settings.data, seed=settings.seed)
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
