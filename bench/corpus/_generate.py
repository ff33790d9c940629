"""Compose the benchmark corpus: realistic NumPyro research scripts, one per topic.

    python bench/corpus/_generate.py        # rewrites bench/corpus/*.py (not this file)

Each output file is built from a topic (domain names, data shape, which model families fit it) and
a seeded choice among import styles, priors, likelihoods, inference drivers, evaluation and plotting
helpers. The output is committed; regenerate only to change the corpus on purpose.
"""

from __future__ import annotations

import ast
import random
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

HERE = Path(__file__).resolve().parent
SEED = 20240611


# ---------------------------------------------------------------------------------------------
# Import styles. Every block is written against $npr / $dist / $rnd and the style fills them in.
# ---------------------------------------------------------------------------------------------

STYLES = [
    {"npr": "numpyro", "dist": "dist", "rnd": "random",
     "imp_npr": "import numpyro", "imp_dist": "import numpyro.distributions as dist",
     "imp_rnd": "from jax import random"},
    {"npr": "npr", "dist": "dist", "rnd": "jr",
     "imp_npr": "import numpyro as npr", "imp_dist": "import numpyro.distributions as dist",
     "imp_rnd": "import jax.random as jr"},
    {"npr": "numpyro", "dist": "D", "rnd": "random",
     "imp_npr": "import numpyro", "imp_dist": "from numpyro import distributions as D",
     "imp_rnd": "import jax.random as random"},
    {"npr": "numpyro", "dist": "nd", "rnd": "jrandom",
     "imp_npr": "import numpyro", "imp_dist": "import numpyro.distributions as nd",
     "imp_rnd": "from jax import random as jrandom"},
    {"npr": "npr", "dist": "D", "rnd": "random",
     "imp_npr": "import numpyro as npr", "imp_dist": "import numpyro.distributions as D",
     "imp_rnd": "from jax import random"},
]

# need token -> (section, import line or (module, name))
IMPORTS = {
    "argparse": ("std", "import argparse"),
    "json": ("std", "import json"),
    "os": ("std", "import os"),
    "time": ("std", "import time"),
    "perf_counter": ("std", ("time", "perf_counter")),
    "partial": ("std", ("functools", "partial")),
    "Path": ("std", ("pathlib", "Path")),
    "dataclass": ("std", ("dataclasses", "dataclass")),
    "plt": ("third", "import matplotlib.pyplot as plt"),
    "np": ("third", "import numpy as np"),
    "pd": ("third", "import pandas as pd"),
    "jax": ("third", "import jax"),
    "jnp": ("third", "import jax.numpy as jnp"),
    "logsumexp": ("third", ("jax.scipy.special", "logsumexp")),
    "expit": ("third", ("jax.scipy.special", "expit")),
    "MCMC": ("infer", "MCMC"), "NUTS": ("infer", "NUTS"), "SVI": ("infer", "SVI"),
    "Predictive": ("infer", "Predictive"), "Trace_ELBO": ("infer", "Trace_ELBO"),
    "TraceEnum_ELBO": ("infer", "TraceEnum_ELBO"), "init_to_median": ("infer", "init_to_median"),
    "init_to_sample": ("infer", "init_to_sample"),
    "log_likelihood": ("infer", "log_likelihood"), "DiscreteHMCGibbs": ("infer", "DiscreteHMCGibbs"),
    "config_enumerate": ("other", ("numpyro.contrib.funsor", "config_enumerate")),
    "AutoNormal": ("autoguide", "AutoNormal"), "AutoDelta": ("autoguide", "AutoDelta"),
    "AutoLowRankMultivariateNormal": ("autoguide", "AutoLowRankMultivariateNormal"),
    "AutoMultivariateNormal": ("autoguide", "AutoMultivariateNormal"),
    "Adam": ("optim", "Adam"), "ClippedAdam": ("optim", "ClippedAdam"),
    "LocScaleReparam": ("reparam", "LocScaleReparam"),
    "scan": ("other", ("numpyro.contrib.control_flow", "scan")),
    "handlers": ("other", ("numpyro", "handlers")),
    "constraints": ("other", ("numpyro.distributions", "constraints")),
    "hpdi": ("diag", "hpdi"), "summary": ("diag", "summary"),
    "effective_sample_size": ("diag", "effective_sample_size"),
}


def render_imports(style: dict, needs: set[str]) -> str:
    std_plain, std_from, third_plain, third_from = [], {}, [], {}
    groups: dict[str, list[str]] = {}
    other: dict[str, list[str]] = {}
    for need in sorted(needs):
        if need not in IMPORTS:
            continue
        section, what = IMPORTS[need]
        if section in ("std", "third"):
            plain, froms = (std_plain, std_from) if section == "std" else (third_plain, third_from)
            if isinstance(what, tuple):
                froms.setdefault(what[0], []).append(what[1])
            else:
                plain.append(what)
        elif section == "other":
            other.setdefault(what[0], []).append(what[1])
        else:
            groups.setdefault(section, []).append(what)
    out = []
    std = sorted(std_plain) + [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(std_from.items())]
    if std:
        out += std + [""]
    third = sorted(third_plain)
    if "jax" in needs or "jnp" in needs:
        third.append(style["imp_rnd"])
    third = sorted(set(third), key=lambda s: (s.startswith("from"), s.split()[1]))
    third += [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(third_from.items())]
    out += third + [""]
    npl = [style["imp_npr"], style["imp_dist"]]
    modules = {"infer": "numpyro.infer", "autoguide": "numpyro.infer.autoguide", "optim": "numpyro.optim",
               "reparam": "numpyro.infer.reparam", "diag": "numpyro.diagnostics"}
    for m, names in other.items():
        npl.append(f"from {m} import {', '.join(sorted(names))}")
    for key, names in groups.items():
        npl.append(f"from {modules[key]} import {', '.join(sorted(names))}")
    out += sorted(npl, key=lambda s: (s.startswith("from"), s.replace("import ", "")))
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------------------------

@dataclass
class Block:
    code: str
    needs: set[str] = field(default_factory=set)


def T(code: str, ctx: dict, needs: str = "", **extra) -> Block:
    text = Template(textwrap.dedent(code).strip("\n")).substitute({**ctx, **extra})
    # A placeholder that expands to nothing leaves an indented empty line: drop it.
    text = "\n".join(line for line in text.split("\n") if line == "" or line.strip())
    return Block(text, set(needs.split()))


def pick(rng: random.Random, options):
    return options[rng.randrange(len(options))]


# ---------------------------------------------------------------------------------------------
# Data: simulators that stand in for the real files, and the preprocessing that follows them
# ---------------------------------------------------------------------------------------------

def data_tabular(ctx, rng, link):
    """Tabular data with a grouping column: link is identity, logit or log (with exposure)."""
    blocks = []
    noise = {"identity": f'linear + rng.normal(0.0, {ctx["noise"]}, size=n)',
             "logit": "rng.binomial(1, 1.0 / (1.0 + np.exp(-linear)))",
             "log": "rng.poisson(exposure * np.exp(linear))"}[link]
    exposure = ("exposure = rng.gamma(4.0, 0.25, size=n)\n    frame[\"$exposure\"] = exposure"
                if link == "log" else "")
    if rng.random() < 0.5:
        noise = noise.replace("size=n", "size=len(df)").replace("exposure *", "df[\"$exposure\"].to_numpy() *")
        blocks.append(T('''
            def simulate_$stem(n=$n, n_$groups=$n_groups, rho=0.3, seed=0):
                """Stand-in for $data_file: correlated predictors (equicorrelation rho) and $groups of
                very different sizes, as in the real data."""
                rng = np.random.default_rng(seed)
                p = len(FEATURES)
                cov = np.full((p, p), rho) + (1.0 - rho) * np.eye(p)
                X = rng.multivariate_normal(np.zeros(p), cov, size=n)
                sizes = rng.lognormal(0.0, 1.0, size=n_$groups)
                $group = rng.choice(n_$groups, size=n, p=sizes / sizes.sum())
                df = pd.DataFrame(X, columns=FEATURES)
                df.insert(0, "$group", [f"$group_prefix{g:03d}" for g in $group])
                $exposure_df
                effect = rng.normal(0.0, $group_sd, size=n_$groups)
                linear = $intercept + effect[$group] + X @ np.asarray($coefs)
                df["$y"] = $noise_expr
                return df
            ''', ctx, "np pd", noise_expr=Template(noise).safe_substitute(ctx),
                exposure_df='df["$exposure"] = rng.gamma(4.0, 0.25, size=n)'.replace("$exposure", ctx["exposure"])
                if link == "log" else ""))
    else:
        blocks.append(T('''
        def simulate_$stem(n=$n, n_$groups=$n_groups, seed=0):
            """Synthetic stand-in for $data_file with the same columns and plausible effect sizes."""
            rng = np.random.default_rng(seed)
            $group = rng.integers(0, n_$groups, size=n)
            group_effect = rng.normal(0.0, $group_sd, size=n_$groups)
            frame = {"$group": np.array([f"$group_prefix{g:03d}" for g in $group])}
            $exposure_lines
            linear = $intercept + group_effect[$group]
            for name, coef in zip(FEATURES, $coefs):
                frame[name] = rng.normal(size=n)
                linear = linear + coef * frame[name]
            frame["$y"] = $noise_expr
            return pd.DataFrame(frame)
        ''', ctx, "np pd", exposure_lines=Template(exposure).substitute(ctx), noise_expr=noise))
    prep_variant = rng.randrange(2)
    extra_out = '        "exposure": jnp.asarray(df["$exposure"].to_numpy(dtype=np.float32)),\n' if link == "log" else ""
    ydtype = "np.float32" if link == "identity" else "np.int32"
    if prep_variant == 0:
        blocks.append(T('''
            def prepare_$stem(df, features=FEATURES):
                """Standardize the predictors and integer-code the $group column."""
                df = df.dropna(subset=list(features) + ["$y"]).reset_index(drop=True)
                codes, levels = pd.factorize(df["$group"], sort=True)
                X = df[list(features)].to_numpy(dtype=np.float32)
                X_mean, X_std = X.mean(axis=0), X.std(axis=0) + 1e-8
                return {
                    "X": jnp.asarray((X - X_mean) / X_std),
                    "y": jnp.asarray(df["$y"].to_numpy(dtype=$ydtype)),
                    "group": jnp.asarray(codes),
                    "n_groups": len(levels),
                    "levels": list(levels),
                    "features": list(features),
                    "X_mean": X_mean,
                    "X_std": X_std,
            ''', ctx, ydtype=ydtype) )
        blocks[-1].code += "\n" + Template(extra_out).substitute(ctx) + "    }"
    else:
        blocks.append(T('''
            def standardize(X, mean=None, std=None):
                mean = X.mean(axis=0) if mean is None else mean
                std = X.std(axis=0) if std is None else std
                return (X - mean) / np.where(std > 0, std, 1.0), mean, std


            def prepare_$stem(df, features=FEATURES, test_fraction=0.2, seed=0):
                """Split by row, standardize with training statistics, code $groups as integers."""
                df = df.dropna().reset_index(drop=True)
                df["$group"] = df["$group"].astype("category")
                codes = df["$group"].cat.codes.to_numpy()
                rng = np.random.default_rng(seed)
                is_test = rng.random(len(df)) < test_fraction
                X_raw = df[list(features)].to_numpy(dtype=np.float32)
                X_train, mean, std = standardize(X_raw[~is_test])
                X_test, _, _ = standardize(X_raw[is_test], mean, std)
                y = df["$y"].to_numpy(dtype=$ydtype)
                data = {
                    "X": jnp.asarray(X_train),
                    "y": jnp.asarray(y[~is_test]),
                    "group": jnp.asarray(codes[~is_test]),
                    "n_groups": int(codes.max()) + 1,
                    "levels": list(df["$group"].cat.categories),
                    "features": list(features),
                    "X_test": jnp.asarray(X_test),
                    "y_test": jnp.asarray(y[is_test]),
                    "group_test": jnp.asarray(codes[is_test]),
                }
            ''', ctx, ydtype=ydtype))
        if link == "log":
            blocks[-1].code += Template('''
    exposure = df["$exposure"].to_numpy(dtype=np.float32)
    data["exposure"] = jnp.asarray(exposure[~is_test])
    data["exposure_test"] = jnp.asarray(exposure[is_test])''').substitute(ctx)
        blocks[-1].code += "\n    return data"
    blocks.append(loader(ctx, rng))
    return blocks


def loader(ctx, rng):
    if rng.random() < 0.5:
        return T('''
            def load_$stem(path=DATA_PATH, seed=0):
                """Read $data_file if it is there; otherwise simulate data with the same layout."""
                if path is not None and os.path.exists(path):
                    df = pd.read_csv(path)
                else:
                    print(f"{path} not found: using simulated data")
                    df = simulate_$stem(seed=seed)
                return prepare_$stem(df)
            ''', ctx, "os pd")
    return T('''
        def load_$stem(path=DATA_PATH, seed=0):
            path = Path(path)
            if path.suffix == ".parquet" and path.exists():
                df = pd.read_parquet(path)
            elif path.exists():
                df = pd.read_csv(path, low_memory=False)
            else:
                df = simulate_$stem(seed=seed)
            df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
            return prepare_$stem(df)
        ''', ctx, "Path pd")


def data_timeseries(ctx, rng, counts=False):
    if counts:
        sim = '''
            def simulate_$stem(T=$n, period=$period, seed=0):
                """Daily $y_label with weekly seasonality and a slowly drifting level."""
                rng = np.random.default_rng(seed)
                t = np.arange(T)
                level = np.cumsum(rng.normal(0.0, 0.03, size=T)) + $intercept
                season = 0.3 * np.sin(2 * np.pi * t / period) + 0.1 * np.cos(4 * np.pi * t / period)
                counts = rng.poisson(np.exp(level + season))
                dates = pd.date_range("2021-01-01", periods=T, freq="D")
                return pd.DataFrame({"date": dates, "$y": counts})
            '''
    else:
        sim = '''
            def simulate_$stem(T=$n, period=$period, seed=0):
                """$y_label: trend, seasonality with the given period and AR(1) noise."""
                rng = np.random.default_rng(seed)
                t = np.arange(T)
                noise = np.zeros(T)
                for i in range(1, T):
                    noise[i] = 0.6 * noise[i - 1] + rng.normal(0.0, $noise)
                y = $intercept + 0.01 * t + np.sin(2 * np.pi * t / period) + noise
                dates = pd.date_range("2015-01-01", periods=T, freq="$freq")
                return pd.DataFrame({"date": dates, "$y": y})
            '''
    if rng.random() < 0.5:
        sim = '''
            def simulate_$stem(T=$n, period=$period, seed=0):
                """$y_label with two level shifts, a seasonal cycle whose amplitude grows, and a few
                outliers: the awkward features of the real series."""
                rng = np.random.default_rng(seed)
                t = np.arange(T)
                shifts = np.zeros(T)
                for start in rng.choice(np.arange(T // 5, 4 * T // 5), size=2, replace=False):
                    shifts[start:] += rng.normal(0.0, 1.0)
                amplitude = 1.0 + t / T
                y = $intercept + shifts + amplitude * np.sin(2 * np.pi * t / period) + rng.normal(0.0, $noise, T)
                outliers = rng.random(T) < 0.01
                y[outliers] += rng.normal(0.0, 5 * $noise, outliers.sum())
                return pd.DataFrame({"date": pd.date_range("2015-01-01", periods=T, freq="$freq"), "$y": y})
            ''' if not counts else '''
            def simulate_$stem(T=$n, period=$period, seed=0):
                """Counts from one wave: the log rate rises, peaks and decays, under a weekday
                reporting pattern and negative-binomial noise."""
                rng = np.random.default_rng(seed)
                t = np.arange(T)
                log_rate = $intercept + 2.0 * np.exp(-0.5 * ((t - 0.4 * T) / (0.15 * T)) ** 2)
                reporting = np.array([1.0, 1.05, 1.1, 1.05, 1.0, 0.7, 0.6])[t % 7]
                mean = reporting * np.exp(log_rate)
                counts = rng.negative_binomial(20, 20 / (20 + mean))
                return pd.DataFrame({"date": pd.date_range("2020-09-01", periods=T, freq="D"), "$y": counts})
            '''
    blocks = [T(sim, ctx, "np pd")]
    dtype = "np.int32" if counts else "np.float32"
    blocks.append(T('''
        def prepare_$stem(df, holdout=$holdout):
            """Sort by date, fill gaps by interpolation and keep the last `holdout` points for testing."""
            df = df.sort_values("date").reset_index(drop=True)
            df["$y"] = df["$y"].interpolate(limit_direction="both")
            y = df["$y"].to_numpy(dtype=$dtype)
            return {
                "y": jnp.asarray(y[:-holdout]),
                "y_test": jnp.asarray(y[-holdout:]),
                "dates": df["date"].to_numpy(),
                "T": len(y) - holdout,
                "holdout": holdout,
                "period": $period,
            }
        ''', ctx, "jnp", dtype=dtype))
    blocks.append(loader(ctx, rng))
    return blocks


SURV_STAGGERED = '''
    def simulate_$stem(n=$n, seed=0, admin_censor=$censor_time):
        """Exponential event times with staggered entry: follow-up ends at a calendar cut-off, so
        later entrants are censored earlier. The first covariate is binary."""
        rng = np.random.default_rng(seed)
        frame = {name: rng.normal(size=n) for name in FEATURES}
        frame[FEATURES[0]] = rng.binomial(1, 0.5, size=n).astype(float)
        linear = sum(coef * frame[name] for name, coef in zip(FEATURES, $coefs))
        event_time = rng.exponential(np.exp($intercept - linear))
        entry = rng.uniform(0.0, 0.5 * admin_censor, size=n)
        follow_up = admin_censor - entry
        frame["$time_col"] = np.minimum(event_time, follow_up)
        frame["$event_col"] = (event_time <= follow_up).astype(int)
        return pd.DataFrame(frame)
    '''


def data_survival(ctx, rng):
    if rng.random() < 0.5:
        return [T(SURV_STAGGERED, ctx, "np pd")] + data_survival_rest(ctx, rng)
    return [T('''
        def simulate_$stem(n=$n, seed=0, admin_censor=$censor_time):
            """Weibull event times that depend on the covariates, with random drop-out and
            administrative censoring at `admin_censor` $time_unit."""
            rng = np.random.default_rng(seed)
            frame = {name: rng.normal(size=n) for name in FEATURES}
            linear = sum(coef * frame[name] for name, coef in zip(FEATURES, $coefs))
            shape = 1.4
            scale = np.exp($intercept - linear / shape)
            event_time = scale * rng.weibull(shape, size=n)
            dropout = rng.exponential(3 * admin_censor, size=n)
            observed = np.minimum(np.minimum(event_time, dropout), admin_censor)
            frame["$time_col"] = observed
            frame["$event_col"] = (event_time <= np.minimum(dropout, admin_censor)).astype(int)
            return pd.DataFrame(frame)
        ''', ctx, "np pd")] + data_survival_rest(ctx, rng)


def data_survival_rest(ctx, rng):
    return [T('''
        def prepare_$stem(df, features=FEATURES):
            df = df[df["$time_col"] > 0].reset_index(drop=True)
            X = df[list(features)].to_numpy(dtype=np.float32)
            X = (X - X.mean(0)) / X.std(0)
            time = df["$time_col"].to_numpy(dtype=np.float32)
            print(f"{len(df)} $units, {df['$event_col'].mean():.1%} with an observed event")
            return {
                "X": jnp.asarray(X),
                "time": jnp.asarray(time),
                "event": jnp.asarray(df["$event_col"].to_numpy(dtype=np.int32)),
                "time_scale": float(np.median(time)),
                "features": list(features),
            }
        ''', ctx, "jnp np"), loader(ctx, rng)]


def data_irt(ctx, rng):
    return [T('''
        def simulate_$stem(n_persons=$n_persons, n_items=$n_items, n_levels=$n_levels, seed=0,
                          missing_rate=0.1):
            """Long-format responses: one row per ($person, $item) pair that was answered."""
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
            return pd.DataFrame({"$person": person, "$item": item, "correct": correct, "rating": rating})
        ''', ctx, "np pd"),
        T('''
        def prepare_$stem(df):
            person_codes, persons = pd.factorize(df["$person"], sort=True)
            item_codes, items = pd.factorize(df["$item"], sort=True)
            return {
                "person": jnp.asarray(person_codes),
                "item": jnp.asarray(item_codes),
                "correct": jnp.asarray(df["correct"].to_numpy(dtype=np.int32)),
                "rating": jnp.asarray(df["rating"].to_numpy(dtype=np.int32)),
                "n_persons": len(persons),
                "n_items": len(items),
                "n_levels": int(df["rating"].max()) + 1,
            }
        ''', ctx, "jnp np pd"), loader(ctx, rng)]


def data_mixture(ctx, rng):
    return [T('''
        def simulate_$stem(n=$n, n_clusters=$n_clusters, seed=0):
            """Clusters of $units in the space of $features_text."""
            rng = np.random.default_rng(seed)
            dim = len(FEATURES)
            centers = rng.normal(0.0, 3.0, size=(n_clusters, dim))
            weights = rng.dirichlet(np.full(n_clusters, 3.0))
            z = rng.choice(n_clusters, size=n, p=weights)
            spread = rng.uniform(0.5, 1.2, size=(n_clusters, dim))
            X = centers[z] + spread[z] * rng.normal(size=(n, dim))
            df = pd.DataFrame(X, columns=FEATURES)
            df["true_cluster"] = z
            return df
        ''', ctx, "np pd"),
        T('''
        def prepare_$stem(df, features=FEATURES):
            X = df[list(features)].to_numpy(dtype=np.float32)
            center, scale = np.median(X, axis=0), X.std(axis=0)
            return {
                "x": jnp.asarray((X - center) / scale),
                "labels": df["true_cluster"].to_numpy() if "true_cluster" in df else None,
                "features": list(features),
            }
        ''', ctx, "jnp np"), loader(ctx, rng)]


def data_gp(ctx, rng):
    return [T('''
        def simulate_$stem(n=$n, seed=0):
            """Noisy $y_label against $x_label, smooth with one sharp feature."""
            rng = np.random.default_rng(seed)
            x = np.sort(rng.uniform(0.0, $x_max, size=n))
            f = np.sin(x / $x_max * 6.0) + 0.5 * np.exp(-((x - 0.7 * $x_max) ** 2) / (0.01 * $x_max**2))
            return pd.DataFrame({"$x_col": x, "$y": $intercept + f + rng.normal(0.0, $noise, size=n)})
        ''', ctx, "np pd"),
        T('''
        def prepare_$stem(df, n_test=$n_test):
            x = df["$x_col"].to_numpy(dtype=np.float32)
            y = df["$y"].to_numpy(dtype=np.float32)
            x_scale, y_mean, y_std = x.max(), y.mean(), y.std()
            return {
                "x": jnp.asarray(x / x_scale),
                "y": jnp.asarray((y - y_mean) / y_std),
                "x_test": jnp.linspace(0.0, 1.1, n_test),
                "x_scale": float(x_scale),
                "y_mean": float(y_mean),
                "y_std": float(y_std),
            }
        ''', ctx, "jnp np"), loader(ctx, rng)]


def data_pairs(ctx, rng):
    return [T('''
        def simulate_$stem(n_teams=$n_teams, n_rounds=$n_rounds, seed=0):
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
                        rows.append((f"$team_prefix{home:02d}", f"$team_prefix{away:02d}",
                                     rng.poisson(rate_home), rng.poisson(rate_away)))
            return pd.DataFrame(rows, columns=["home", "away", "home_score", "away_score"])
        ''', ctx, "np pd"),
        T('''
        def prepare_$stem(df):
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
        ''', ctx, "jnp np"), loader(ctx, rng)]


def data_meta(ctx, rng):
    return [T('''
        # Effect estimates and standard errors as reported in the $n_studies included studies.
        STUDIES = pd.DataFrame({
            "study": [f"$study_prefix{i + 1:02d}" for i in range($n_studies)],
            "estimate": $estimates,
            "std_error": $std_errors,
        })
        ''', ctx, "pd"),
        T('''
        def prepare_$stem(df=STUDIES):
            df = df.dropna(subset=["estimate", "std_error"])
            return {
                "y": jnp.asarray(df["estimate"].to_numpy(dtype=np.float32)),
                "sigma": jnp.asarray(df["std_error"].to_numpy(dtype=np.float32)),
                "J": len(df),
                "labels": df["study"].tolist(),
            }


        def load_$stem(path=DATA_PATH, seed=0):
            del seed  # the table is fixed
            return prepare_$stem(pd.read_csv(path) if os.path.exists(path) else STUDIES)
        ''', ctx, "jnp np os pd")]


def data_binomial(ctx, rng):
    return [T('''
        def simulate_$stem(n_$groups=$n_groups, seed=0):
            """Aggregated counts: $successes out of $trials per $group, with extra-binomial noise."""
            rng = np.random.default_rng(seed)
            trials = rng.integers(20, 400, size=n_$groups)
            frame = {"$group": [f"$group_prefix{i:03d}" for i in range(n_$groups)], "$trials": trials}
            linear = np.full(n_$groups, $intercept)
            for name, coef in zip(FEATURES, $coefs):
                frame[name] = rng.normal(size=n_$groups)
                linear += coef * frame[name]
            p = 1.0 / (1.0 + np.exp(-(linear + rng.normal(0.0, 0.3, size=n_$groups))))
            frame["$successes"] = rng.binomial(trials, p)
            return pd.DataFrame(frame)
        ''', ctx, "np pd"),
        T('''
        def prepare_$stem(df, features=FEATURES):
            df = df[df["$trials"] > 0].reset_index(drop=True)
            X = df[list(features)].to_numpy(dtype=np.float32)
            return {
                "X": jnp.asarray((X - X.mean(0)) / X.std(0)),
                "trials": jnp.asarray(df["$trials"].to_numpy(dtype=np.int32)),
                "successes": jnp.asarray(df["$successes"].to_numpy(dtype=np.int32)),
                "n_groups": len(df),
                "levels": df["$group"].tolist(),
                "features": list(features),
            }
        ''', ctx, "jnp np"), loader(ctx, rng)]


def data_pk(ctx, rng):
    return [T('''
        def simulate_$stem(n_subjects=$n_subjects, dose=$dose, seed=0):
            """Plasma concentrations after one oral dose, sampled at fixed times per subject."""
            rng = np.random.default_rng(seed)
            times = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 24.0])
            log_ka = rng.normal(np.log(1.2), 0.3, size=n_subjects)
            log_ke = rng.normal(np.log(0.15), 0.25, size=n_subjects)
            log_v = rng.normal(np.log(30.0), 0.2, size=n_subjects)
            rows = []
            for s in range(n_subjects):
                ka, ke, v = np.exp(log_ka[s]), np.exp(log_ke[s]), np.exp(log_v[s])
                conc = dose * ka / (v * (ka - ke)) * (np.exp(-ke * times) - np.exp(-ka * times))
                observed = conc * np.exp(rng.normal(0.0, 0.15, size=times.shape[0]))
                rows += [(s, t, c) for t, c in zip(times, observed)]
            return pd.DataFrame(rows, columns=["subject", "time_h", "conc"])
        ''', ctx, "np pd"),
        T('''
        def prepare_$stem(df, lloq=0.05):
            """Drop samples below the lower limit of quantification (about 3% of rows)."""
            df = df[df["conc"] > lloq].reset_index(drop=True)
            subject, subjects = pd.factorize(df["subject"], sort=True)
            return {
                "subject": jnp.asarray(subject),
                "time": jnp.asarray(df["time_h"].to_numpy(dtype=np.float32)),
                "conc": jnp.asarray(df["conc"].to_numpy(dtype=np.float32)),
                "n_subjects": len(subjects),
                "dose": $dose,
            }
        ''', ctx, "jnp np pd"), loader(ctx, rng)]


def data_mmm(ctx, rng):
    return [T('''
        def simulate_$stem(n_weeks=$n, seed=0):
            """Weekly spend per channel and $y_label with carry-over and diminishing returns."""
            rng = np.random.default_rng(seed)
            spend = rng.gamma(2.0, 1.0, size=(n_weeks, len(CHANNELS))) * (rng.random((n_weeks, len(CHANNELS))) > 0.2)
            effect = np.zeros(n_weeks)
            for c, (decay, half) in enumerate(zip([0.5, 0.3, 0.7, 0.2][: len(CHANNELS)], [1.0, 2.0, 1.5, 0.8])):
                carried = np.zeros(n_weeks)
                for t in range(n_weeks):
                    carried[t] = spend[t, c] + (decay * carried[t - 1] if t else 0.0)
                effect += 0.8 * carried / (carried + half)
            week = np.arange(n_weeks)
            y = $intercept + effect + 0.3 * np.sin(2 * np.pi * week / 52) + rng.normal(0.0, 0.2, n_weeks)
            df = pd.DataFrame(spend, columns=CHANNELS)
            df["$y"] = y
            return df
        ''', ctx, "np pd"),
        T('''
        def prepare_$stem(df):
            spend = df[CHANNELS].to_numpy(dtype=np.float32)
            week = np.arange(len(df))
            fourier = np.column_stack([f(2 * np.pi * k * week / 52) for k in (1, 2) for f in (np.sin, np.cos)])
            return {
                "spend": jnp.asarray(spend / spend.mean(0)),
                "fourier": jnp.asarray(fourier.astype(np.float32)),
                "y": jnp.asarray(df["$y"].to_numpy(dtype=np.float32)),
                "channels": list(CHANNELS),
            }
        ''', ctx, "jnp np"), loader(ctx, rng)]


def data_occupancy(ctx, rng):
    return [T('''
        def simulate_$stem(n_sites=$n_sites, n_visits=$n_visits, seed=0):
            """Detection histories: a species present at a site is seen on each visit with prob p."""
            rng = np.random.default_rng(seed)
            habitat = rng.normal(size=n_sites)
            effort = rng.normal(size=(n_sites, n_visits))
            psi = 1.0 / (1.0 + np.exp(-(0.2 + 1.0 * habitat)))
            occupied = rng.random(n_sites) < psi
            p = 1.0 / (1.0 + np.exp(-(-0.5 + 0.6 * effort)))
            detections = (rng.random((n_sites, n_visits)) < p) & occupied[:, None]
            abundance = rng.poisson(np.exp(1.0 + 0.5 * habitat))
            counts = rng.binomial(abundance[:, None], 0.4, size=(n_sites, n_visits))
            df = pd.DataFrame(detections.astype(int), columns=[f"visit_{v + 1}" for v in range(n_visits)])
            df["habitat"] = habitat
            for v in range(n_visits):
                df[f"effort_{v + 1}"] = effort[:, v]
                df[f"count_{v + 1}"] = counts[:, v]
            return df
        ''', ctx, "np pd"),
        T('''
        def prepare_$stem(df):
            visit_cols = sorted(c for c in df.columns if c.startswith("visit_"))
            effort_cols = sorted(c for c in df.columns if c.startswith("effort_"))
            count_cols = sorted(c for c in df.columns if c.startswith("count_"))
            return {
                "detections": jnp.asarray(df[visit_cols].to_numpy(dtype=np.int32)),
                "habitat": jnp.asarray(df["habitat"].to_numpy(dtype=np.float32)),
                "effort": jnp.asarray(df[effort_cols].to_numpy(dtype=np.float32)),
                "counts": jnp.asarray(df[count_cols].to_numpy(dtype=np.int32)),
                "n_sites": len(df),
                "n_visits": len(visit_cols),
            }
        ''', ctx, "jnp np"), loader(ctx, rng)]


DATA = {
    "reg": lambda ctx, rng: data_tabular(ctx, rng, "identity"),
    "bin": lambda ctx, rng: data_tabular(ctx, rng, "logit"),
    "cnt": lambda ctx, rng: data_tabular(ctx, rng, "log"),
    "ts": lambda ctx, rng: data_timeseries(ctx, rng),
    "tsc": lambda ctx, rng: data_timeseries(ctx, rng, counts=True),
    "surv": data_survival, "irt": data_irt, "mix": data_mixture, "gp": data_gp,
    "pairs": data_pairs, "meta": data_meta, "binom": data_binomial, "pk": data_pk,
    "mmm": data_mmm, "occ": data_occupancy,
}


# ---------------------------------------------------------------------------------------------
# Models. Each returns the model code, its name, how the fit wrapper calls it and the engine.
# ---------------------------------------------------------------------------------------------

@dataclass
class Model:
    block: Block
    name: str
    args: str
    kwargs: str
    engine: str = "mcmc"


def sigma_prior(rng, scale=None):
    s = scale or pick(rng, ["1.0", "2.0", "0.5"])
    return pick(rng, [f"HalfNormal({s})", "Exponential(1.0)", f"HalfCauchy({s})"])


REG_ARGS = 'data["X"], data["group"], data["n_groups"]'


def m_pooled(ctx, rng):
    student = rng.random() < 0.4
    lik = "$dist.StudentT(nu, mu, sigma)" if student else "$dist.Normal(mu, sigma)"
    nu = '    nu = $npr.sample("nu", $dist.Gamma(2.0, 0.1))\n' if student else ""
    code = f'''def complete_pooling(X, group, n_groups, y=None):
    """One regression for every $unit: ignores the $groups entirely (the baseline)."""
    del group, n_groups
    intercept = $npr.sample("intercept", $dist.Normal($y_center, $s_int))
    with $npr.plate("features", X.shape[1]):
        beta = $npr.sample("beta", $dist.Normal(0.0, $s_beta))
    sigma = $npr.sample("sigma", $dist.$sig)
{nu}    mu = intercept + X @ beta
    with $npr.plate("$units", X.shape[0]):
        $npr.sample("$y", {lik}, obs=y)
'''
    return Model(T(code, ctx, "", s_int=pick(rng, ["2.0", "5.0", "10.0"]), s_beta=pick(rng, ["1.0", "2.5"]),
                   sig=sigma_prior(rng)), "complete_pooling", REG_ARGS, 'y=data["y"]')


def m_varying_intercept(ctx, rng, link="identity"):
    style = rng.randrange(3)
    name = pick(rng, ["varying_intercept", "partial_pooling", "hierarchical_intercepts"])
    lik = {"identity": '$dist.Normal(mu, sigma_y)', "logit": '$dist.Bernoulli(logits=mu)'}[link]
    sig = '    sigma_y = $npr.sample("sigma_y", $dist.HalfNormal($s_y))\n' if link == "identity" else ""
    if style == 0:
        effects = '''    with $npr.plate("$groups", n_groups):
                a = $npr.sample("a", $dist.Normal(mu_a, sigma_a))'''
        doc = "Centered $group intercepts a_j ~ Normal(mu_a, sigma_a)."
        deco = ""
    elif style == 1:
        effects = '''    with $npr.plate("$groups", n_groups):
                a_raw = $npr.sample("a_raw", $dist.Normal(0.0, 1.0))
            a = $npr.deterministic("a", mu_a + sigma_a * a_raw)'''
        doc = "Non-centered $group intercepts: a = mu_a + sigma_a * a_raw."
        deco = ""
    else:
        effects = '''    with $npr.plate("$groups", n_groups):
                a = $npr.sample("a", $dist.Normal(mu_a, sigma_a))'''
        doc = "Written centered; LocScaleReparam makes the sampler see a_decentered ~ Normal(0, 1)."
        deco = '@handlers.reparam(config={"a": LocScaleReparam(centered=0)})\n'
    code = deco + f'''def {name}(X, group, n_groups, y=None):
    """{doc}"""
    mu_a = $npr.sample("mu_a", $dist.Normal($y_center, $s_int))
    sigma_a = $npr.sample("sigma_a", $dist.HalfNormal($s_grp))
{effects.replace("            ", "    ")}
    with $npr.plate("features", X.shape[1]):
        beta = $npr.sample("beta", $dist.Normal(0.0, $s_beta))
{sig}    mu = a[group] + X @ beta
    with $npr.plate("$units", X.shape[0]):
        $npr.sample("$y", {lik}, obs=y)
'''
    needs = "handlers LocScaleReparam" if style == 2 else ""
    return Model(T(code, ctx, needs, s_int=pick(rng, ["1.0", "2.0", "5.0"]), s_grp=pick(rng, ["1.0", "0.5", "2.0"]),
                   s_beta=pick(rng, ["1.0", "2.0"]), s_y=pick(rng, ["1.0", "2.0"])),
                 name, REG_ARGS, 'y=data["y"]', pick(rng, ["mcmc", "mcmc", "svi"]))


def m_varying_slopes(ctx, rng):
    eta = pick(rng, ["2.0", "4.0", "1.0"])
    code = '''
        def varying_slopes(X, group, n_groups, y=None):
            """Correlated $group intercepts and slopes on the first predictor (LKJ prior on the
            correlation, non-centered effects), fixed effects for the remaining predictors."""
            n_eff = 2
            mu = $npr.sample("mu", $dist.Normal(0.0, 2.0).expand([n_eff]).to_event(1))
            tau = $npr.sample("tau", $dist.HalfNormal(1.0).expand([n_eff]).to_event(1))
            L_omega = $npr.sample("L_omega", $dist.LKJCholesky(n_eff, concentration=$eta))
            L = tau[..., None] * L_omega
            with $npr.plate("$groups", n_groups):
                z = $npr.sample("z", $dist.Normal(0.0, 1.0).expand([n_eff]).to_event(1))
            effects = $npr.deterministic("effects", mu + z @ L.T)
            with $npr.plate("other_features", X.shape[1] - 1):
                beta = $npr.sample("beta", $dist.Normal(0.0, 1.0))
            sigma = $npr.sample("sigma", $dist.$sig)
            mu_y = effects[group, 0] + effects[group, 1] * X[:, 0] + X[:, 1:] @ beta
            with $npr.plate("$units", X.shape[0]):
                $npr.sample("$y", $dist.Normal(mu_y, sigma), obs=y)
            $npr.deterministic("Omega", L_omega @ L_omega.T)
        '''
    return Model(T(code, ctx, "", eta=eta, sig=sigma_prior(rng)), "varying_slopes", REG_ARGS, 'y=data["y"]')


def m_horseshoe(ctx, rng, link="identity"):
    lik = ('$dist.Normal(intercept + X @ beta, sigma)' if link == "identity"
           else '$dist.Bernoulli(logits=intercept + X @ beta)')
    sig = ('    sigma = $npr.sample("sigma", $dist.HalfNormal(1.0))\n' if link == "identity"
           else "    sigma = 2.0  # pseudo-variance for the logistic model (Piironen & Vehtari 2017)\n")
    code = f'''def regularized_horseshoe(X, group, n_groups, y=None, expected_nonzero=$p0, slab_scale=$slab, slab_df=4.0):
    """Regularized horseshoe (Piironen & Vehtari 2017) on all coefficients; no $group effects."""
    del group, n_groups
    n, p = X.shape
{sig}    tau0 = expected_nonzero / max(p - expected_nonzero, 1) * sigma / jnp.sqrt(n)
    tau = tau0 * $npr.sample("tau_raw", $dist.HalfCauchy(1.0))
    c2 = $npr.sample("c2", $dist.InverseGamma(0.5 * slab_df, 0.5 * slab_df * slab_scale**2))
    with $npr.plate("features", p):
        lam = $npr.sample("lambda", $dist.HalfCauchy(1.0))
        z = $npr.sample("z", $dist.Normal(0.0, 1.0))
    lam_tilde = jnp.sqrt(c2) * lam / jnp.sqrt(c2 + tau**2 * lam**2)
    beta = $npr.deterministic("beta", z * lam_tilde * tau)
    intercept = $npr.sample("intercept", $dist.Normal(0.0, $s_int))
    with $npr.plate("$units", n):
        $npr.sample("$y", {lik}, obs=y)
'''
    return Model(T(code, ctx, "jnp", p0=pick(rng, ["1", "2", "3"]), slab=pick(rng, ["2.0", "1.0", "3.0"]),
                   s_int=pick(rng, ["2.5", "5.0"])), "regularized_horseshoe", REG_ARGS, 'y=data["y"]')


def m_spline(ctx, rng):
    knots = pick(rng, ["8", "10", "12", "15"])
    helper = '''
        def bspline_basis(x, n_knots=$knots, degree=3):
            """B-spline design matrix (Cox-de Boor recursion) with knots at quantiles of x."""
            x = np.asarray(x, dtype=np.float64)
            inner = np.quantile(x, np.linspace(0, 1, n_knots))
            knots = np.concatenate([[inner[0]] * degree, inner, [inner[-1]] * degree])
            basis = np.array([(knots[i] <= x) & (x < knots[i + 1]) for i in range(len(knots) - 1)], dtype=float).T
            basis[x == inner[-1], n_knots + degree - 2] = 1.0
            for d in range(1, degree + 1):
                new = np.zeros((x.shape[0], len(knots) - d - 1))
                for i in range(len(knots) - d - 1):
                    left_den = knots[i + d] - knots[i]
                    right_den = knots[i + d + 1] - knots[i + 1]
                    left = (x - knots[i]) / left_den * basis[:, i] if left_den > 0 else 0.0
                    right = (knots[i + d + 1] - x) / right_den * basis[:, i + 1] if right_den > 0 else 0.0
                    new[:, i] = left + right
                basis = new
            return jnp.asarray(basis, dtype=jnp.float32)


        def pspline(B, X_rest, y=None):
            """P-spline in the first predictor: random-walk prior on the basis weights, plus linear
            terms for the others."""
            alpha = $npr.sample("alpha", $dist.Normal($y_center, 2.0))
            tau = $npr.sample("tau", $dist.HalfNormal($s_tau))
            with $npr.plate("basis", B.shape[1]):
                delta = $npr.sample("delta", $dist.Normal(0.0, 1.0))
            w = $npr.deterministic("w", jnp.cumsum(tau * delta))
            with $npr.plate("linear", X_rest.shape[1]):
                beta = $npr.sample("beta", $dist.Normal(0.0, 1.0))
            sigma = $npr.sample("sigma", $dist.$sig)
            f = B @ (w - w.mean())
            with $npr.plate("$units", B.shape[0]):
                $npr.deterministic("f", f)
                $npr.sample("$y", $dist.Normal(alpha + f + X_rest @ beta, sigma), obs=y)
        '''
    return Model(T(helper, ctx, "np jnp", knots=knots, s_tau=pick(rng, ["0.5", "1.0"]), sig=sigma_prior(rng)),
                 "pspline", 'bspline_basis(data["X"][:, 0]), data["X"][:, 1:]', 'y=data["y"]')


def m_errors_in_variables(ctx, rng):
    code = '''
        def errors_in_variables(X, group, n_groups, y=None, x_error=$err):
            """The first predictor is measured with known noise `x_error`: its true value is latent."""
            del group, n_groups
            n = X.shape[0]
            with $npr.plate("$units", n):
                x_true = $npr.sample("x_true", $dist.Normal(0.0, 1.0))
                $npr.sample("x_measured", $dist.Normal(x_true, x_error), obs=X[:, 0])
            alpha = $npr.sample("alpha", $dist.Normal($y_center, $s_int))
            slope = $npr.sample("slope", $dist.Normal(0.0, 1.0))
            with $npr.plate("other_features", X.shape[1] - 1):
                beta = $npr.sample("beta", $dist.Normal(0.0, 1.0))
            sigma = $npr.sample("sigma", $dist.$sig)
            with $npr.plate("$units", n):
                $npr.sample("$y", $dist.Normal(alpha + slope * x_true + X[:, 1:] @ beta, sigma), obs=y)
        '''
    return Model(T(code, ctx, "", err=pick(rng, ["0.3", "0.2", "0.5"]), s_int=pick(rng, ["2.0", "5.0"]),
                   sig=sigma_prior(rng)), "errors_in_variables", REG_ARGS, 'y=data["y"]')


def m_logistic(ctx, rng):
    event = rng.random() < 0.5
    if event:
        coef = '    beta = $npr.sample("beta", $dist.Normal(jnp.zeros(X.shape[1]), $s_beta).to_event(1))'
    else:
        coef = '''    with $npr.plate("features", X.shape[1]):
        beta = $npr.sample("beta", $dist.Normal(0.0, $s_beta))'''
    code = f'''def logistic_regression(X, group, n_groups, y=None):
    """Pooled logistic regression; the baseline every other model must beat."""
    del group, n_groups
    intercept = $npr.sample("intercept", $dist.Normal(0.0, $s_int))
{coef}
    logits = $npr.deterministic("logits", intercept + X @ beta)
    with $npr.plate("$units", X.shape[0]):
        $npr.sample("$y", $dist.Bernoulli(logits=logits), obs=y)
'''
    return Model(T(code, ctx, "jnp" if event else "", s_int=pick(rng, ["1.5", "2.5", "5.0"]),
                   s_beta=pick(rng, ["1.0", "2.5"])), "logistic_regression", REG_ARGS, 'y=data["y"]',
                 pick(rng, ["mcmc", "svi"]))


def m_bnn(ctx, rng):
    hidden = pick(rng, ["8", "16", "32"])
    act = pick(rng, ["jnp.tanh", "jax.nn.relu", "jax.nn.softplus"])
    code = '''
        def bayesian_mlp(X, group, n_groups, y=None, hidden=$hidden):
            """One hidden layer with Normal priors on all weights, scaled by fan-in; trained with SVI."""
            del group, n_groups
            n, p = X.shape
            w1 = $npr.sample("w1", $dist.Normal(0.0, 1.0 / jnp.sqrt(p)).expand([p, hidden]).to_event(2))
            b1 = $npr.sample("b1", $dist.Normal(0.0, 1.0).expand([hidden]).to_event(1))
            w2 = $npr.sample("w2", $dist.Normal(0.0, 1.0 / jnp.sqrt(hidden)).expand([hidden]).to_event(1))
            b2 = $npr.sample("b2", $dist.Normal(0.0, 1.0))
            h = $act(X @ w1 + b1)
            logits = h @ w2 + b2
            with $npr.plate("$units", n, subsample_size=min(n, 512)) as idx:
                $npr.sample("$y", $dist.Bernoulli(logits=logits[idx]), obs=None if y is None else y[idx])
        '''
    return Model(T(code, ctx, "jnp" if act.startswith("jnp") else "jax jnp", hidden=hidden, act=act), "bayesian_mlp", REG_ARGS, 'y=data["y"]', "svi")


CNT_ARGS = 'data["X"], data["exposure"], data["group"], data["n_groups"]'


def m_count(ctx, rng, family):
    name = {"poisson": "poisson_glmm", "negbin": "negative_binomial_glmm", "zip": "zero_inflated_poisson"}[family]
    extra, lik = {
        "poisson": ("", "$dist.Poisson(rate)"),
        "negbin": ('    phi = $npr.sample("phi", $dist.Exponential(1.0))\n',
                   "$dist.NegativeBinomial2(rate, phi)"),
        "zip": ('    gate = $npr.sample("gate", $dist.Beta(1.0, 3.0))\n',
                "$dist.ZeroInflatedPoisson(gate, rate)"),
    }[family]
    centered = rng.random() < 0.3
    if centered:
        re = '''    with $npr.plate("$groups", n_groups):
        u = $npr.sample("u", $dist.Normal(0.0, sigma_u))'''
    else:
        re = '''    with $npr.plate("$groups", n_groups):
        u_raw = $npr.sample("u_raw", $dist.Normal(0.0, 1.0))
    u = sigma_u * u_raw'''
    code = f'''def {name}(X, exposure, group, n_groups, y=None):
    """Log-linear rate per unit of exposure with a random effect for each $group."""
    intercept = $npr.sample("intercept", $dist.Normal($log_base, 1.0))
    with $npr.plate("features", X.shape[1]):
        beta = $npr.sample("beta", $dist.Normal(0.0, $s_beta))
    sigma_u = $npr.sample("sigma_u", $dist.HalfNormal($s_u))
{re}
{extra}    log_rate = jnp.log(exposure) + intercept + X @ beta + u[group]
    rate = jnp.exp(jnp.clip(log_rate, -20.0, 20.0))
    with $npr.plate("$units", X.shape[0]):
        $npr.sample("$y", {lik}, obs=y)
'''
    return Model(T(code, ctx, "jnp", s_beta=pick(rng, ["0.5", "1.0"]), s_u=pick(rng, ["0.5", "1.0"])),
                 name, CNT_ARGS, 'y=data["y"]')


def m_hurdle(ctx, rng):
    code = '''
        def hurdle_poisson(X, exposure, group, n_groups, y=None):
            """Zeros from a logistic hurdle, positives from a zero-truncated Poisson; the likelihood
            is added with `factor` because NumPyro has no truncated Poisson."""
            del group, n_groups
            with $npr.plate("features", X.shape[1]):
                beta_zero = $npr.sample("beta_zero", $dist.Normal(0.0, 1.0))
                beta_count = $npr.sample("beta_count", $dist.Normal(0.0, 1.0))
            a_zero = $npr.sample("a_zero", $dist.Normal(0.0, 1.5))
            a_count = $npr.sample("a_count", $dist.Normal($log_base, 1.0))
            logit_zero = a_zero + X @ beta_zero
            rate = exposure * jnp.exp(a_count + X @ beta_count)
            if y is None:
                return
            log_p_zero = jax.nn.log_sigmoid(logit_zero)
            log_p_pos = jax.nn.log_sigmoid(-logit_zero)
            log_trunc = $dist.Poisson(rate).log_prob(y) - jnp.log1p(-jnp.exp(-rate))
            $npr.factor("hurdle_loglik", jnp.where(y == 0, log_p_zero, log_p_pos + log_trunc).sum())
        '''
    return Model(T(code, ctx, "jax jnp"), "hurdle_poisson", CNT_ARGS, 'y=data["y"]')


TS_ARGS = 'data["T"]'


def m_ar(ctx, rng):
    code = '''
        def ar_model(T, y=None, p=$order):
            """AR(p) around a constant, conditioned on the first p observations."""
            alpha = $npr.sample("alpha", $dist.Normal(0.0, 1.0))
            with $npr.plate("lags", p):
                phi = $npr.sample("phi", $dist.Normal(0.0, 0.5))
            sigma = $npr.sample("sigma", $dist.$sig)
            init = y[:p] if y is not None else jnp.zeros(p)

            def transition(window, y_t):
                mu = alpha + jnp.dot(phi, window[::-1])
                y_t = $npr.sample("y", $dist.Normal(mu, sigma), obs=y_t)
                return jnp.concatenate([window[1:], jnp.atleast_1d(y_t)]), mu

            _, mu = scan(transition, init, y[p:] if y is not None else None, length=T - p)
            $npr.deterministic("mu", mu)


        def forecast_ar(samples, y, horizon, rng_key, p=$order):
            """Simulate `horizon` steps ahead for every posterior draw (pure JAX, no NumPyro)."""
            def one_draw(alpha, phi, sigma, key):
                def step(window, eps):
                    y_next = alpha + jnp.dot(phi, window[::-1]) + sigma * eps
                    return jnp.concatenate([window[1:], y_next[None]]), y_next
                eps = $rnd.normal(key, (horizon,))
                return jax.lax.scan(step, y[-p:], eps)[1]

            n = samples["alpha"].shape[0]
            keys = $rnd.split(rng_key, n)
            return jax.vmap(one_draw)(samples["alpha"], samples["phi"], samples["sigma"], keys)
        '''
    return Model(T(code, ctx, "jax jnp scan", order=pick(rng, ["2", "3", "1"]), sig=sigma_prior(rng)),
                 "ar_model", TS_ARGS, 'y=data["y"]')


def m_local_linear_trend(ctx, rng):
    code = '''
        def local_linear_trend(T, y=None):
            """Level and slope follow random walks; innovations are non-centered."""
            sigma_level = $npr.sample("sigma_level", $dist.HalfNormal($s_level))
            sigma_slope = $npr.sample("sigma_slope", $dist.HalfNormal($s_slope))
            sigma_obs = $npr.sample("sigma_obs", $dist.HalfNormal(1.0))
            level_0 = $npr.sample("level_0", $dist.Normal(0.0, 5.0))
            slope_0 = $npr.sample("slope_0", $dist.Normal(0.0, 0.1))

            def transition(carry, y_t):
                level, slope = carry
                eps_level = $npr.sample("eps_level", $dist.Normal(0.0, 1.0))
                eps_slope = $npr.sample("eps_slope", $dist.Normal(0.0, 1.0))
                level = level + slope + sigma_level * eps_level
                slope = slope + sigma_slope * eps_slope
                $npr.sample("y", $dist.Normal(level, sigma_obs), obs=y_t)
                return (level, slope), level

            _, levels = scan(transition, (level_0, slope_0), y, length=T)
            $npr.deterministic("level", levels)
        '''
    return Model(T(code, ctx, "scan", s_level=pick(rng, ["0.1", "0.5"]), s_slope=pick(rng, ["0.01", "0.05"])),
                 "local_linear_trend", TS_ARGS, 'y=data["y"]', pick(rng, ["mcmc", "svi"]))


def m_fourier_trend(ctx, rng):
    n_cp = pick(rng, ["10", "15", "25"])
    code = '''
        def fourier_features(t, period, order):
            t = jnp.asarray(t, dtype=jnp.float32)
            k = jnp.arange(1, order + 1)
            angles = 2.0 * jnp.pi * k * t[:, None] / period
            return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


        def trend_seasonal(T, y=None, period=$period, order=$order, n_changepoints=$n_cp):
            """Piecewise-linear trend with Laplace-distributed rate changes plus Fourier seasonality
            and Student-t noise (the structure of Prophet)."""
            t = jnp.arange(T) / T
            s = jnp.linspace(0.0, 0.8, n_changepoints)
            A = (t[:, None] >= s[None, :]).astype(jnp.float32)
            k = $npr.sample("k", $dist.Normal(0.0, 5.0))
            m = $npr.sample("m", $dist.Normal(0.0, 5.0))
            with $npr.plate("changepoints", n_changepoints):
                delta = $npr.sample("delta", $dist.Laplace(0.0, $cp_scale))
            trend = (k + A @ delta) * t + (m + A @ (-s * delta))
            F = fourier_features(jnp.arange(T), period, order)
            with $npr.plate("fourier_terms", F.shape[1]):
                beta = $npr.sample("beta", $dist.Normal(0.0, $s_season))
            sigma = $npr.sample("sigma", $dist.HalfNormal(0.5))
            nu = $npr.sample("nu", $dist.Gamma(5.0, 0.5))
            mu = $npr.deterministic("mu", trend + F @ beta)
            with $npr.plate("time", T):
                $npr.sample("y", $dist.StudentT(nu, mu, sigma), obs=y)
        '''
    return Model(T(code, ctx, "jnp", order=pick(rng, ["3", "4", "6"]), n_cp=n_cp,
                   cp_scale=pick(rng, ["0.05", "0.1", "0.5"]), s_season=pick(rng, ["1.0", "2.0"])),
                 "trend_seasonal", TS_ARGS, 'y=data["y"]', pick(rng, ["mcmc", "svi"]))


def m_holt_winters(ctx, rng):
    code = '''
        def holt_winters(T, y=None, period=$period):
            """Additive Holt-Winters smoothing as a state-space model: the smoothing weights are
            the parameters, the states are deterministic given them."""
            level_sm = $npr.sample("level_smoothing", $dist.Beta(1.0, 2.0))
            trend_sm = $npr.sample("trend_smoothing", $dist.Beta(1.0, 4.0))
            season_sm = $npr.sample("season_smoothing", $dist.Beta(1.0, 3.0))
            with $npr.plate("season_init", period):
                season_0 = $npr.sample("season_0", $dist.Normal(0.0, 1.0))
            level_0 = $npr.sample("level_0", $dist.Normal(0.0, 5.0))
            sigma = $npr.sample("sigma", $dist.$sig)

            def transition(carry, y_t):
                level, trend, season = carry
                mu = level + trend + season[0]
                y_t = $npr.sample("y", $dist.Normal(mu, sigma), obs=y_t)
                new_level = level_sm * (y_t - season[0]) + (1 - level_sm) * (level + trend)
                new_trend = trend_sm * (new_level - level) + (1 - trend_sm) * trend
                new_season = season_sm * (y_t - new_level) + (1 - season_sm) * season[0]
                season = jnp.concatenate([season[1:], new_season[None]])
                return (new_level, new_trend, season), mu

            _, mu = scan(transition, (level_0, 0.0, season_0), y, length=T)
            $npr.deterministic("mu", mu)
        '''
    return Model(T(code, ctx, "jnp scan", sig=sigma_prior(rng)), "holt_winters", TS_ARGS, 'y=data["y"]')


def m_stochastic_volatility(ctx, rng):
    code = '''
        def stochastic_volatility(T, y=None):
            """Log-variance h_t is a stationary AR(1); returns are Student-t given h_t."""
            mu_h = $npr.sample("mu_h", $dist.Normal(-1.0, 1.0))
            phi = $npr.sample("phi", $dist.Uniform(-1.0, 1.0))
            sigma_h = $npr.sample("sigma_h", $dist.HalfNormal(0.3))
            nu = $npr.sample("nu", $dist.Gamma(2.0, 0.1))
            h_0 = mu_h + sigma_h / jnp.sqrt(1.0 - phi**2) * $npr.sample("z_0", $dist.Normal(0.0, 1.0))

            def transition(h_prev, y_t):
                z = $npr.sample("z", $dist.Normal(0.0, 1.0))
                h = mu_h + phi * (h_prev - mu_h) + sigma_h * z
                $npr.sample("y", $dist.StudentT(nu, 0.0, jnp.exp(h / 2)), obs=y_t)
                return h, h

            _, h = scan(transition, h_0, y, length=T)
            $npr.deterministic("volatility", jnp.exp(h / 2))
        '''
    return Model(T(code, ctx, "jnp scan"), "stochastic_volatility", TS_ARGS, 'y=data["y"]')


def m_garch(ctx, rng):
    code = '''
        def garch11(T, y=None):
            """GARCH(1, 1) with Student-t innovations; stationarity a + b < 1 via a Dirichlet split."""
            mu = $npr.sample("mu", $dist.Normal(0.0, 0.1))
            omega = $npr.sample("omega", $dist.HalfNormal(0.2))
            weights = $npr.sample("weights", $dist.Dirichlet(jnp.array([$conc])))
            a, b = weights[0], weights[1]
            nu = $npr.sample("nu", $dist.Gamma(2.0, 0.1))
            var_0 = omega / (1.0 - a - b)

            def transition(carry, y_t):
                var, eps_prev = carry
                var = omega + a * eps_prev**2 + b * var
                y_t = $npr.sample("y", $dist.StudentT(nu, mu, jnp.sqrt(var)), obs=y_t)
                return (var, y_t - mu), jnp.sqrt(var)

            _, vol = scan(transition, (var_0, 0.0), y, length=T)
            $npr.deterministic("conditional_volatility", vol)
        '''
    return Model(T(code, ctx, "jnp scan", conc=pick(rng, ["2.0, 8.0, 2.0", "1.0, 6.0, 1.0"])),
                 "garch11", TS_ARGS, 'y=data["y"]')


def m_dynamic_poisson(ctx, rng):
    code = '''
        def dynamic_poisson(T, y=None, period=$period):
            """Counts whose log rate is a local level plus a fixed weekly pattern."""
            sigma = $npr.sample("sigma", $dist.HalfNormal($s_rw))
            level_0 = $npr.sample("level_0", $dist.Normal($intercept, 1.0))
            with $npr.plate("weekdays", period):
                weekday = $npr.sample("weekday", $dist.Normal(0.0, 0.5))

            def transition(level, inputs):
                t, y_t = inputs
                level = level + sigma * $npr.sample("eps", $dist.Normal(0.0, 1.0))
                $npr.sample("y", $dist.Poisson(jnp.exp(level + weekday[t % period])), obs=y_t)
                return level, level

            _, log_level = scan(transition, level_0, (jnp.arange(T), y), length=T)
            $npr.deterministic("rate", jnp.exp(log_level))
        '''
    return Model(T(code, ctx, "jnp scan", s_rw=pick(rng, ["0.05", "0.1"])), "dynamic_poisson", TS_ARGS,
                 'y=data["y"]')


def m_renewal(ctx, rng):
    code = '''
        def generation_interval(max_days=$gi_days, mean=$gi_mean, sd=2.5):
            """Discretized gamma generation-interval distribution."""
            shape, rate = (mean / sd) ** 2, mean / sd**2
            days = jnp.arange(1, max_days + 1)
            w = jnp.exp((shape - 1) * jnp.log(days) - rate * days)
            return w / w.sum()


        def renewal_model(T, y=None, seed_days=7):
            """Infections from the renewal equation with a random-walk log R_t; reported cases are
            negative binomial around the infections."""
            w = generation_interval()
            log_R0 = $npr.sample("log_R0", $dist.Normal(0.0, 0.5))
            sigma_R = $npr.sample("sigma_R", $dist.HalfNormal($s_R))
            seed = $npr.sample("seed", $dist.LogNormal($intercept, 1.0))
            phi = $npr.sample("phi", $dist.Exponential(0.1))
            with $npr.plate("days_after_seed", T - seed_days):
                z = $npr.sample("z", $dist.Normal(0.0, 1.0))
            log_R = log_R0 + jnp.cumsum(sigma_R * z)
            R = $npr.deterministic("R", jnp.exp(log_R))
            past = jnp.concatenate([jnp.zeros(w.shape[0] - seed_days), jnp.full(seed_days, seed)])

            def step(history, R_t):
                # Clipped so that an early draw with R >> 1 cannot overflow to inf during warmup.
                infections = jnp.clip(R_t * jnp.dot(history[::-1], w), 0.0, 1.0e8)
                return jnp.concatenate([history[1:], infections[None]]), infections

            _, infections = jax.lax.scan(step, past, R)
            expected = jnp.concatenate([jnp.full(seed_days, seed), infections])
            $npr.deterministic("infections", expected)
            with $npr.plate("days", T):
                $npr.sample("y", $dist.NegativeBinomial2(expected + 1e-3, phi), obs=y)
        '''
    return Model(T(code, ctx, "jax jnp", gi_days=pick(rng, ["14", "20"]), gi_mean=pick(rng, ["5.2", "6.5", "4.7"]),
                   s_R=pick(rng, ["0.05", "0.1"])), "renewal_model", TS_ARGS, 'y=data["y"]')


def m_changepoint(ctx, rng):
    code = '''
        def changepoint_model(T, y=None):
            """One change in the Poisson rate at an unknown day, summed out exactly."""
            rate_before = $npr.sample("rate_before", $dist.Gamma(2.0, 0.1))
            rate_after = $npr.sample("rate_after", $dist.Gamma(2.0, 0.1))
            t = jnp.arange(T)
            if y is None:
                tau = $npr.sample("tau", $dist.Categorical(logits=jnp.zeros(T)))
                with $npr.plate("days", T):
                    $npr.sample("y", $dist.Poisson(jnp.where(t < tau, rate_before, rate_after)))
                return
            log_before = jnp.cumsum($dist.Poisson(rate_before).log_prob(y))
            log_after = jnp.cumsum($dist.Poisson(rate_after).log_prob(y)[::-1])[::-1]
            log_lik = jnp.concatenate([log_after[:1], log_before[:-1] + log_after[1:]])
            $npr.factor("marginal", logsumexp(log_lik) - jnp.log(T))
            $npr.deterministic("tau_posterior", jax.nn.softmax(log_lik))
        '''
    return Model(T(code, ctx, "jax jnp logsumexp"), "changepoint_model", TS_ARGS, 'y=data["y"]')


SURV_ARGS = 'data["X"], data["time"] / data["time_scale"], data["event"]'


def m_weibull(ctx, rng):
    code = '''
        def weibull_aft(X, time, event):
            """Weibull accelerated failure time; censored rows contribute log S(t)."""
            with $npr.plate("features", X.shape[1]):
                beta = $npr.sample("beta", $dist.Normal(0.0, $s_beta))
            alpha = $npr.sample("alpha", $dist.Normal(0.0, 2.0))
            k = $npr.sample("k", $dist.$k_prior)
            scale = jnp.exp(alpha + X @ beta)
            with $npr.plate("$units", X.shape[0]):
                with handlers.mask(mask=event == 1):
                    $npr.sample("time", $dist.Weibull(scale, k), obs=time)
                log_survival = -((time / scale) ** k)
                $npr.factor("censored", jnp.where(event == 0, log_survival, 0.0))
        '''
    return Model(T(code, ctx, "handlers jnp", s_beta=pick(rng, ["1.0", "0.5"]),
                   k_prior=pick(rng, ["Gamma(2.0, 2.0)", "LogNormal(0.0, 0.5)", "HalfNormal(2.0)"])),
                 "weibull_aft", SURV_ARGS, "")


def m_lognormal_aft(ctx, rng):
    code = '''
        def lognormal_aft(X, time, event):
            """Log-normal AFT: log T = alpha + X beta + sigma * eps; censoring via log Phi(-z)."""
            alpha = $npr.sample("alpha", $dist.Normal(0.0, 2.0))
            with $npr.plate("features", X.shape[1]):
                beta = $npr.sample("beta", $dist.Normal(0.0, 1.0))
            sigma = $npr.sample("sigma", $dist.$sig)
            loc = alpha + X @ beta
            z = (jnp.log(time) - loc) / sigma
            log_f = $dist.LogNormal(loc, sigma).log_prob(time)
            log_S = jax.scipy.special.log_ndtr(-z)
            $npr.factor("loglik", jnp.sum(jnp.where(event == 1, log_f, log_S)))
            $npr.deterministic("median_time", jnp.exp(loc))
        '''
    return Model(T(code, ctx, "jax jnp", sig=sigma_prior(rng)), "lognormal_aft", SURV_ARGS, "")


def m_piecewise(ctx, rng):
    code = '''
        def person_period(time, event, n_intervals=$n_int):
            """Expand to the person-period layout: exposure and event indicator per interval."""
            time, event = np.asarray(time), np.asarray(event)
            cuts = np.quantile(time[event == 1], np.linspace(0, 1, n_intervals + 1))
            cuts[0], cuts[-1] = 0.0, np.inf
            lower, upper = cuts[:-1], cuts[1:]
            exposure = np.clip(time[:, None] - lower[None, :], 0.0, upper - lower)
            died = (event[:, None] == 1) & (time[:, None] > lower) & (time[:, None] <= upper)
            return jnp.asarray(exposure, dtype=jnp.float32), jnp.asarray(died.astype(np.int32))


        def piecewise_exponential(X, exposure, died=None):
            """Proportional hazards with a piecewise-constant baseline (Poisson trick); the log
            baseline hazards follow a random walk across intervals."""
            n, n_intervals = exposure.shape
            with $npr.plate("features", X.shape[1]):
                beta = $npr.sample("beta", $dist.Normal(0.0, 1.0))
            sigma_rw = $npr.sample("sigma_rw", $dist.HalfNormal(0.5))
            log_h0 = $npr.sample("log_h0", $dist.Normal(-1.0, 2.0))
            with $npr.plate("intervals", n_intervals - 1):
                steps = $npr.sample("steps", $dist.Normal(0.0, 1.0))
            log_h = $npr.deterministic("log_baseline", log_h0 + jnp.concatenate([jnp.zeros(1), jnp.cumsum(sigma_rw * steps)]))
            rate = exposure * jnp.exp(log_h[None, :] + (X @ beta)[:, None])
            with $npr.plate("$units", n, dim=-2), $npr.plate("periods", n_intervals, dim=-1):
                $npr.sample("died", $dist.Poisson(rate + 1e-10), obs=died)
        '''
    return Model(T(code, ctx, "np jnp", n_int=pick(rng, ["6", "8", "10"])), "piecewise_exponential",
                 'data["X"], *person_period(data["time"] / data["time_scale"], data["event"])', "")


def m_cure(ctx, rng):
    code = '''
        def mixture_cure(X, time, event):
            """A fraction pi of $units never experience the event; the rest follow a Weibull."""
            with $npr.plate("features", X.shape[1]):
                beta_cure = $npr.sample("beta_cure", $dist.Normal(0.0, 1.0))
                beta_time = $npr.sample("beta_time", $dist.Normal(0.0, 1.0))
            a_cure = $npr.sample("a_cure", $dist.Normal(-1.0, 1.5))
            a_time = $npr.sample("a_time", $dist.Normal(0.0, 2.0))
            k = $npr.sample("k", $dist.Gamma(2.0, 2.0))
            logit_pi = a_cure + X @ beta_cure
            scale = jnp.exp(a_time + X @ beta_time)
            log_pi, log_not_pi = jax.nn.log_sigmoid(logit_pi), jax.nn.log_sigmoid(-logit_pi)
            log_f = $dist.Weibull(scale, k).log_prob(time)
            log_S = -((time / scale) ** k)
            ll_event = log_not_pi + log_f
            ll_censored = jnp.logaddexp(log_pi, log_not_pi + log_S)
            $npr.factor("loglik", jnp.where(event == 1, ll_event, ll_censored).sum())
            $npr.deterministic("cure_fraction", jax.nn.sigmoid(logit_pi).mean())
        '''
    return Model(T(code, ctx, "jax jnp"), "mixture_cure", SURV_ARGS, "")


IRT_ARGS = 'data["person"], data["item"], data["n_persons"], data["n_items"]'


def m_rasch(ctx, rng):
    code = '''
        def rasch(person, item, n_persons, n_items, correct=None):
            """One-parameter logistic model; abilities fixed to unit scale for identification."""
            with $npr.plate("$persons", n_persons):
                theta = $npr.sample("theta", $dist.Normal(0.0, 1.0))
            with $npr.plate("$items", n_items):
                b = $npr.sample("b", $dist.Normal(0.0, $s_b))
            with $npr.plate("responses", person.shape[0]):
                $npr.sample("correct", $dist.Bernoulli(logits=theta[person] - b[item]), obs=correct)
        '''
    return Model(T(code, ctx, "", s_b=pick(rng, ["1.5", "2.0", "3.0"])), "rasch", IRT_ARGS,
                 'correct=data["correct"]', pick(rng, ["mcmc", "svi"]))


def m_2pl(ctx, rng, guessing=False):
    centered = rng.random() < 0.5
    if centered:
        diff = '''    with $npr.plate("$items", n_items):
        a = $npr.sample("a", $dist.LogNormal(0.0, 0.5))
        b = $npr.sample("b", $dist.Normal(mu_b, sigma_b))'''
    else:
        diff = '''    with $npr.plate("$items", n_items):
        a = $npr.sample("a", $dist.LogNormal(0.0, 0.5))
        b_raw = $npr.sample("b_raw", $dist.Normal(0.0, 1.0))
    b = $npr.deterministic("b", mu_b + sigma_b * b_raw)'''
    name = "three_pl" if guessing else "two_pl"
    g = ('    with $npr.plate("$items_guess", n_items):\n        c = $npr.sample("c", $dist.Beta(5.0, 17.0))\n'
         '    p = c[item] + (1.0 - c[item]) * jax.nn.sigmoid(eta)\n'
         '    with $npr.plate("responses", person.shape[0]):\n'
         '        $npr.sample("correct", $dist.Bernoulli(probs=p), obs=correct)\n') if guessing else (
         '    with $npr.plate("responses", person.shape[0]):\n'
         '        $npr.sample("correct", $dist.Bernoulli(logits=eta), obs=correct)\n')
    doc = ("Three-parameter logistic: discrimination, difficulty and a guessing floor per $item."
           if guessing else "Two-parameter logistic IRT with a hierarchical prior on $item difficulty.")
    code = f'''def {name}(person, item, n_persons, n_items, correct=None):
    """{doc}"""
    mu_b = $npr.sample("mu_b", $dist.Normal(0.0, 1.0))
    sigma_b = $npr.sample("sigma_b", $dist.HalfNormal(1.0))
    with $npr.plate("$persons", n_persons):
        theta = $npr.sample("theta", $dist.Normal(0.0, 1.0))
{diff}
    eta = a[item] * (theta[person] - b[item])
{g}'''
    return Model(T(code, ctx, "jax" if guessing else "", items_guess=ctx["items"] + "_guessing"),
                 name, IRT_ARGS, 'correct=data["correct"]', pick(rng, ["mcmc", "svi"]))


def m_graded(ctx, rng):
    improper = rng.random() < 0.4
    if improper:
        cut = ('$npr.sample("cutpoints", $dist.ImproperUniform(constraints.ordered_vector, (), '
               "event_shape=(n_levels - 1,)))")
        needs = "constraints"
    else:
        cut = ('$npr.sample("cutpoints", $dist.TransformedDistribution(\n'
               "        $dist.Normal(0.0, 3.0).expand([n_levels - 1]).to_event(1),\n"
               "        $dist.transforms.OrderedTransform()))")
        needs = ""
    code = f'''def graded_response(person, item, n_persons, n_items, n_levels, rating=None):
    """Ordinal ratings: a common set of ordered cutpoints shifted by $item location and scaled
    by $item discrimination (Samejima's graded response model, simplified)."""
    with $npr.plate("$persons", n_persons):
        theta = $npr.sample("theta", $dist.Normal(0.0, 1.0))
    with $npr.plate("$items", n_items):
        a = $npr.sample("a", $dist.LogNormal(0.0, 0.5))
        b = $npr.sample("b", $dist.Normal(0.0, 1.0))
    cutpoints = {cut}
    with $npr.plate("responses", person.shape[0]):
        eta = a[item] * (theta[person] - b[item])
        $npr.sample("rating", $dist.OrderedLogistic(eta, cutpoints), obs=rating)
'''
    return Model(T(code, ctx, needs), "graded_response", IRT_ARGS + ', data["n_levels"]',
                 'rating=data["rating"]')


MIX_ARGS = 'data["x"]'


def m_gmm_diag(ctx, rng):
    code = '''
        def gmm_diagonal(x, K=$K):
            """K Gaussian components with diagonal covariance; labels marginalized."""
            N, D = x.shape
            weights = $npr.sample("weights", $dist.Dirichlet(jnp.full(K, $alpha)))
            with $npr.plate("components", K, dim=-2), $npr.plate("dims", D, dim=-1):
                locs = $npr.sample("locs", $dist.Normal(0.0, 3.0))
                scales = $npr.sample("scales", $dist.LogNormal(0.0, 0.5))
            components = $dist.Normal(locs, scales).to_event(1)
            mixture = $dist.MixtureSameFamily($dist.Categorical(probs=weights), components)
            with $npr.plate("$units", N):
                $npr.sample("x", mixture, obs=x)
        '''
    return Model(T(code, ctx, "jnp", alpha=pick(rng, ["1.0", "0.5", "2.0"])), "gmm_diagonal", MIX_ARGS, "")


def m_gmm_full(ctx, rng):
    code = '''
        def gmm_full_covariance(x, K=$K):
            """Full covariance per component through an LKJ Cholesky factor and per-dimension scales."""
            N, D = x.shape
            weights = $npr.sample("weights", $dist.Dirichlet(jnp.ones(K)))
            with $npr.plate("components", K):
                locs = $npr.sample("locs", $dist.Normal(0.0, 3.0).expand([D]).to_event(1))
                scales = $npr.sample("scales", $dist.HalfNormal(1.0).expand([D]).to_event(1))
                L_omega = $npr.sample("L_omega", $dist.LKJCholesky(D, concentration=2.0))
            scale_tril = scales[..., None] * L_omega
            mixture = $dist.MixtureSameFamily(
                $dist.Categorical(probs=weights), $dist.MultivariateNormal(locs, scale_tril=scale_tril)
            )
            with $npr.plate("$units", N):
                $npr.sample("x", mixture, obs=x)
        '''
    return Model(T(code, ctx, "jnp"), "gmm_full_covariance", MIX_ARGS, "", pick(rng, ["mcmc", "svi"]))


def m_gmm_enum(ctx, rng):
    code = '''
        @config_enumerate
        def gmm_enumerated(x, K=$K):
            """Explicit assignments z_n, enumerated in parallel by TraceEnum_ELBO (needs funsor)."""
            N, D = x.shape
            weights = $npr.sample("weights", $dist.Dirichlet(0.5 * jnp.ones(K)))
            with $npr.plate("components", K):
                locs = $npr.sample("locs", $dist.Normal(0.0, 3.0).expand([D]).to_event(1))
                scale = $npr.sample("scale", $dist.LogNormal(0.0, 1.0))
            with $npr.plate("$units", N):
                z = $npr.sample("z", $dist.Categorical(weights))
                $npr.sample("x", $dist.Normal(locs[z], scale[z][..., None]).to_event(1), obs=x)


        def fit_gmm_enumerated_map(data, rng_key, settings):
            """MAP for the global parameters, then posterior responsibilities for every $unit."""
            guide = AutoDelta(handlers.block(gmm_enumerated, hide=["z"]))
            svi = SVI(gmm_enumerated, guide, Adam(settings.learning_rate), TraceEnum_ELBO(max_plate_nesting=1))
            result = svi.run(rng_key, settings.num_steps, data["x"], progress_bar=False)
            # A single "draw" (leading axis of size 1) so the evaluation code can treat it like samples.
            return {name: value[None] for name, value in guide.median(result.params).items()}
        '''
    return Model(T(code, ctx, "jnp config_enumerate AutoDelta handlers SVI Adam TraceEnum_ELBO"),
                 "gmm_enumerated", MIX_ARGS, "", "custom")


def m_dp(ctx, rng):
    code = '''
        def mix_weights(beta):
            """Stick-breaking: w_k = beta_k * prod_{j<k} (1 - beta_j)."""
            beta1m_cumprod = jnp.cumprod(1.0 - beta, axis=-1)
            return jnp.pad(beta, (0, 1), constant_values=1.0) * jnp.pad(beta1m_cumprod, (1, 0), constant_values=1.0)


        def dirichlet_process_mixture(x, truncation=$trunc):
            """Truncated DP mixture; the concentration alpha is learned."""
            N, D = x.shape
            alpha = $npr.sample("alpha", $dist.Gamma(1.0, 1.0))
            with $npr.plate("sticks", truncation - 1):
                beta = $npr.sample("beta", $dist.Beta(1.0, alpha))
            weights = $npr.deterministic("weights", mix_weights(beta))
            with $npr.plate("components", truncation):
                locs = $npr.sample("locs", $dist.Normal(0.0, 3.0).expand([D]).to_event(1))
                scale = $npr.sample("scale", $dist.LogNormal(-0.5, 0.5))
            components = $dist.Normal(locs, scale[:, None]).to_event(1)
            with $npr.plate("$units", N):
                $npr.sample("x", $dist.MixtureSameFamily($dist.Categorical(probs=weights), components), obs=x)
        '''
    return Model(T(code, ctx, "jnp", trunc=pick(rng, ["10", "12", "20"])), "dirichlet_process_mixture",
                 MIX_ARGS, "", "svi")


GP_ARGS = 'data["x"]'


KERNELS = {
    "rbf": '''
        def kernel(X, Z, var, length, jitter=1.0e-6):
            """Squared-exponential covariance between the rows of X and Z."""
            d2 = (X[:, None] - Z[None, :]) ** 2
            k = var * jnp.exp(-0.5 * d2 / length**2)
            if X.shape == Z.shape:
                k = k + jitter * jnp.eye(X.shape[0])
            return k
        ''',
    "matern32": '''
        def kernel(X, Z, var, length, jitter=1.0e-6):
            """Matern 3/2: rougher sample paths than the squared exponential."""
            r = jnp.abs(X[:, None] - Z[None, :]) / length
            k = var * (1.0 + jnp.sqrt(3.0) * r) * jnp.exp(-jnp.sqrt(3.0) * r)
            if X.shape == Z.shape:
                k = k + jitter * jnp.eye(X.shape[0])
            return k
        ''',
}


def m_gp_exact(ctx, rng):
    kname = pick(rng, list(KERNELS))
    code = KERNELS[kname] + '''

        def gp_regression(X, Y=None):
            """Exact GP with Gaussian noise; the latent function is integrated out."""
            var = $npr.sample("kernel_var", $dist.LogNormal(0.0, 1.0))
            length = $npr.sample("kernel_length", $dist.InverseGamma($ig_a, $ig_b))
            noise = $npr.sample("kernel_noise", $dist.HalfNormal(0.3))
            k = kernel(X, X, var, length) + noise**2 * jnp.eye(X.shape[0])
            $npr.sample("Y", $dist.MultivariateNormal(loc=jnp.zeros(X.shape[0]), covariance_matrix=k), obs=Y)


        def gp_predict(rng_key, X, Y, X_test, var, length, noise):
            """Posterior predictive mean and one draw at X_test for one set of hyperparameters."""
            k_pp = kernel(X_test, X_test, var, length) + noise**2 * jnp.eye(X_test.shape[0])
            k_pX = kernel(X_test, X, var, length, jitter=0.0)
            k_XX = kernel(X, X, var, length) + noise**2 * jnp.eye(X.shape[0])
            K_xx_inv = jnp.linalg.inv(k_XX)
            cov = k_pp - jnp.matmul(k_pX, jnp.matmul(K_xx_inv, jnp.transpose(k_pX)))
            sigma_noise = jnp.sqrt(jnp.clip(jnp.diag(cov), 0.0)) * $rnd.normal(rng_key, X_test.shape[:1])
            mean = jnp.matmul(k_pX, jnp.matmul(K_xx_inv, Y))
            return mean, mean + sigma_noise
        '''
    return Model(T(code, ctx, "jnp", ig_a=pick(rng, ["5.0", "3.0"]), ig_b=pick(rng, ["1.0", "0.5", "2.0"])),
                 "gp_regression", GP_ARGS, 'Y=data["y"]')


def m_hsgp(ctx, rng):
    code = '''
        def hsgp_basis(x, m=$m, L=$L):
            """Laplacian eigenfunctions on [-L, L] (Solin & Sarkka 2020; Riutort-Mayol et al. 2023)."""
            j = jnp.arange(1, m + 1)
            sqrt_eigenvalues = jnp.pi * j / (2.0 * L)
            phi = jnp.sqrt(1.0 / L) * jnp.sin(sqrt_eigenvalues * (x[:, None] + L))
            return phi, sqrt_eigenvalues


        def spectral_density_rbf(w, var, length):
            return var * jnp.sqrt(2.0 * jnp.pi) * length * jnp.exp(-0.5 * (length * w) ** 2)


        def hsgp_regression(x, y=None, m=$m, L=$L):
            """Approximate GP: a linear model on m basis functions whose prior variances come from
            the kernel's spectral density. Scales to many thousands of points."""
            x_centered = x - 0.5
            phi, sqrt_eig = hsgp_basis(x_centered, m, L)
            var = $npr.sample("var", $dist.HalfNormal(1.0))
            length = $npr.sample("length", $dist.InverseGamma(5.0, 1.0))
            noise = $npr.sample("noise", $dist.HalfNormal(0.3))
            spd = jnp.sqrt(spectral_density_rbf(sqrt_eig, var, length))
            with $npr.plate("basis", m):
                beta = $npr.sample("beta", $dist.Normal(0.0, 1.0))
            f = $npr.deterministic("f", phi @ (spd * beta))
            with $npr.plate("$units", x.shape[0]):
                $npr.sample("y", $dist.Normal(f, noise), obs=y)
        '''
    return Model(T(code, ctx, "jnp", m=pick(rng, ["20", "30", "40"]), L=pick(rng, ["1.5", "2.0"])),
                 "hsgp_regression", GP_ARGS, 'y=data["y"]', pick(rng, ["mcmc", "svi"]))


def m_gp_latent(ctx, rng):
    code = '''
        def gp_latent_student_t(x, y=None):
            """Latent GP with Student-t noise: f = L z, so the sampler works with z ~ N(0, I)."""
            n = x.shape[0]
            var = $npr.sample("var", $dist.LogNormal(0.0, 1.0))
            length = $npr.sample("length", $dist.InverseGamma(5.0, 1.0))
            d2 = (x[:, None] - x[None, :]) ** 2
            K = var * jnp.exp(-0.5 * d2 / length**2) + 1.0e-5 * jnp.eye(n)
            L = jnp.linalg.cholesky(K)
            with $npr.plate("latent", n):
                z = $npr.sample("z", $dist.Normal(0.0, 1.0))
            f = $npr.deterministic("f", L @ z)
            nu = $npr.sample("nu", $dist.Gamma(2.0, 0.1))
            sigma = $npr.sample("sigma", $dist.HalfNormal(0.3))
            with $npr.plate("$units", n):
                $npr.sample("y", $dist.StudentT(nu, f, sigma), obs=y)
        '''
    return Model(T(code, ctx, "jnp"), "gp_latent_student_t", GP_ARGS, 'y=data["y"]')


PAIR_ARGS = 'data["home"], data["away"], data["n_teams"]'


def m_bradley_terry(ctx, rng):
    code = '''
        def bradley_terry(home, away, n_teams, home_win=None):
            """P(home wins) = sigmoid(s_home - s_away + h); strengths share a scale sigma_s."""
            sigma_s = $npr.sample("sigma_s", $dist.HalfNormal($s_s))
            h = $npr.sample("home_advantage", $dist.Normal(0.0, 0.5))
            with $npr.plate("$teams", n_teams):
                s_raw = $npr.sample("s_raw", $dist.Normal(0.0, 1.0))
            strength = $npr.deterministic("strength", sigma_s * (s_raw - s_raw.mean()))
            with $npr.plate("$games", home.shape[0]):
                $npr.sample("home_win", $dist.Bernoulli(logits=strength[home] - strength[away] + h), obs=home_win)
        '''
    return Model(T(code, ctx, "", s_s=pick(rng, ["1.0", "0.5"])), "bradley_terry", PAIR_ARGS,
                 'home_win=data["home_win"]', pick(rng, ["mcmc", "svi"]))


def m_attack_defence(ctx, rng):
    centered = rng.random() < 0.4
    if centered:
        ad = '''    with $npr.plate("$teams", n_teams):
        attack = $npr.sample("attack", $dist.Normal(0.0, sigma_att))
        defence = $npr.sample("defence", $dist.Normal(0.0, sigma_def))'''
    else:
        ad = '''    with $npr.plate("$teams", n_teams):
        att_raw = $npr.sample("att_raw", $dist.Normal(0.0, 1.0))
        def_raw = $npr.sample("def_raw", $dist.Normal(0.0, 1.0))
    attack = sigma_att * (att_raw - att_raw.mean())
    defence = sigma_def * (def_raw - def_raw.mean())'''
    code = f'''def attack_defence(home, away, n_teams, home_score=None, away_score=None):
    """Independent Poisson scores with team attack and defence effects (Baio & Blangiardo 2010)."""
    home_adv = $npr.sample("home_adv", $dist.Normal(0.2, 0.2))
    intercept = $npr.sample("intercept", $dist.Normal(0.0, 1.0))
    sigma_att = $npr.sample("sigma_att", $dist.HalfNormal(0.5))
    sigma_def = $npr.sample("sigma_def", $dist.HalfNormal(0.5))
{ad}
    theta_home = jnp.exp(intercept + home_adv + attack[home] - defence[away])
    theta_away = jnp.exp(intercept + attack[away] - defence[home])
    with $npr.plate("$games", home.shape[0]):
        $npr.sample("home_score", $dist.Poisson(theta_home), obs=home_score)
        $npr.sample("away_score", $dist.Poisson(theta_away), obs=away_score)
'''
    return Model(T(code, ctx, "jnp"), "attack_defence", PAIR_ARGS,
                 'home_score=data["home_score"], away_score=data["away_score"]')


def m_ordered_outcome(ctx, rng):
    code = '''
        def ordered_outcome(home, away, n_teams, outcome=None):
            """Away win / draw / home win as an ordered logistic in the strength difference."""
            with $npr.plate("$teams", n_teams):
                strength = $npr.sample("strength", $dist.Normal(0.0, 1.0))
            cutpoints = $npr.sample(
                "cutpoints",
                $dist.TransformedDistribution(
                    $dist.Normal(0.0, 2.0).expand([2]).to_event(1), $dist.transforms.OrderedTransform()
                ),
            )
            with $npr.plate("$games", home.shape[0]):
                $npr.sample("outcome", $dist.OrderedLogistic(strength[home] - strength[away], cutpoints), obs=outcome)
        '''
    return Model(T(code, ctx, ""), "ordered_outcome", PAIR_ARGS, 'outcome=data["outcome"]')


META_ARGS = 'data["sigma"], data["J"]'


def m_meta(ctx, rng, variant):
    codes = {
        "fixed": ('common_effect', '''
            def common_effect(sigma, J, y=None):
                """Every study estimates the same effect mu (inverse-variance weighting)."""
                mu = $npr.sample("mu", $dist.Normal(0.0, $s_mu))
                with $npr.plate("studies", J):
                    $npr.sample("y", $dist.Normal(mu, sigma), obs=y)
            '''),
        "centered": ('random_effects', '''
            def random_effects(sigma, J, y=None):
                """Study effects theta_j ~ Normal(mu, tau): the textbook (centered) form."""
                mu = $npr.sample("mu", $dist.Normal(0.0, $s_mu))
                tau = $npr.sample("tau", $dist.HalfCauchy($s_tau))
                with $npr.plate("studies", J):
                    theta = $npr.sample("theta", $dist.Normal(mu, tau))
                    $npr.sample("y", $dist.Normal(theta, sigma), obs=y)
            '''),
        "reparam": ('random_effects_nc', '''
            @handlers.reparam(config={"theta": LocScaleReparam(centered=0)})
            def random_effects_nc(sigma, J, y=None):
                """The same model; LocScaleReparam gives NUTS the non-centered geometry."""
                mu = $npr.sample("mu", $dist.Normal(0.0, $s_mu))
                tau = $npr.sample("tau", $dist.HalfCauchy($s_tau))
                with $npr.plate("studies", J):
                    theta = $npr.sample("theta", $dist.Normal(mu, tau))
                    $npr.sample("y", $dist.Normal(theta, sigma), obs=y)
            '''),
        "student": ('robust_random_effects', '''
            def robust_random_effects(sigma, J, y=None):
                """Heavy-tailed study effects, so that one outlying study cannot drag mu."""
                mu = $npr.sample("mu", $dist.Normal(0.0, $s_mu))
                tau = $npr.sample("tau", $dist.HalfNormal($s_tau))
                nu = $npr.sample("nu", $dist.Gamma(2.0, 0.1))
                with $npr.plate("studies", J):
                    z = $npr.sample("z", $dist.StudentT(nu, 0.0, 1.0))
                    theta = $npr.deterministic("theta", mu + tau * z)
                    $npr.sample("y", $dist.Normal(theta, sigma), obs=y)
            '''),
    }
    name, code = codes[variant]
    needs = "handlers LocScaleReparam" if variant == "reparam" else ""
    return Model(T(code, ctx, needs, s_mu=pick(rng, ["1.0", "2.0", "0.5"]), s_tau=pick(rng, ["0.5", "1.0"])),
                 name, META_ARGS, 'y=data["y"]')


BINOM_ARGS = 'data["X"], data["trials"], data["n_groups"]'


def m_binom(ctx, rng, variant):
    if variant == "logit_normal":
        code = '''
            def logit_normal_binomial(X, trials, n_groups, successes=None):
                """Binomial with a non-centered random effect per $group for overdispersion."""
                alpha = $npr.sample("alpha", $dist.Normal($intercept, 1.5))
                with $npr.plate("features", X.shape[1]):
                    beta = $npr.sample("beta", $dist.Normal(0.0, 1.0))
                sigma = $npr.sample("sigma", $dist.HalfNormal(1.0))
                with $npr.plate("$groups", n_groups):
                    eps = $npr.sample("eps", $dist.Normal(0.0, 1.0))
                    logits = alpha + X @ beta + sigma * eps
                    $npr.sample("successes", $dist.Binomial(trials, logits=logits), obs=successes)
                    $npr.deterministic("p", jax.nn.sigmoid(logits))
            '''
        name, needs = "logit_normal_binomial", "jax"
    else:
        code = '''
            def beta_binomial_regression(X, trials, n_groups, successes=None):
                """Beta-binomial: mean from a logistic regression, concentration kappa shared."""
                alpha = $npr.sample("alpha", $dist.Normal($intercept, 1.5))
                with $npr.plate("features", X.shape[1]):
                    beta = $npr.sample("beta", $dist.Normal(0.0, 1.0))
                kappa = $npr.sample("kappa", $dist.Pareto(1.0, 1.5))
                mean = jax.nn.sigmoid(alpha + X @ beta)
                with $npr.plate("$groups", n_groups):
                    $npr.sample(
                        "successes",
                        $dist.BetaBinomial(mean * kappa, (1.0 - mean) * kappa, total_count=trials),
                        obs=successes,
                    )
            '''
        name, needs = "beta_binomial_regression", "jax"
    return Model(T(code, ctx, needs), name, BINOM_ARGS, 'successes=data["successes"]')


PK_ARGS = 'data["subject"], data["time"], data["n_subjects"], data["dose"]'


def m_pk(ctx, rng):
    code = '''
        def one_compartment(dose, ka, ke, v, t):
            """Concentration after an oral dose in a one-compartment model with first-order absorption."""
            return dose * ka / (v * (ka - ke)) * (jnp.exp(-ke * t) - jnp.exp(-ka * t))


        def population_pk(subject, time, n_subjects, dose, conc=None):
            """Log-normal between-subject variability on ka, ke and V; proportional residual error."""
            mu_log = $npr.sample("mu_log", $dist.Normal(jnp.log(jnp.array([1.0, 0.1, 25.0])), 0.5).to_event(1))
            omega = $npr.sample("omega", $dist.HalfNormal(0.3).expand([3]).to_event(1))
            sigma = $npr.sample("sigma", $dist.HalfNormal(0.2))
            with $npr.plate("subjects", n_subjects):
                eta = $npr.sample("eta", $dist.Normal(0.0, 1.0).expand([3]).to_event(1))
            log_params = mu_log + omega * eta
            ka, ke, v = (jnp.exp(log_params[:, i]) for i in range(3))
            pred = one_compartment(dose, ka[subject], ke[subject] + 1e-3, v[subject], time)
            with $npr.plate("samples", time.shape[0]):
                $npr.sample("conc", $dist.LogNormal(jnp.log(jnp.clip(pred, 1e-6)), sigma), obs=conc)
        '''
    return Model(T(code, ctx, "jnp"), "population_pk", PK_ARGS, 'conc=data["conc"]')


MMM_ARGS = 'data["spend"], data["fourier"]'


def m_mmm(ctx, rng):
    lags = pick(rng, ["6", "8", "12"])
    code = '''
        def geometric_adstock(spend, decay, max_lag=$lags):
            """Carry-over: sum_l decay^l * spend[t - l], normalized, per channel."""
            lags = jnp.arange(max_lag)
            weights = decay[None, :] ** lags[:, None]
            weights = weights / weights.sum(0)
            padded = jnp.concatenate([jnp.zeros((max_lag - 1, spend.shape[1])), spend])
            windows = jnp.stack([padded[max_lag - 1 - l : padded.shape[0] - l] for l in range(max_lag)])
            return jnp.einsum("ltc,lc->tc", windows, weights)


        def hill(x, half_saturation, slope):
            return x**slope / (x**slope + half_saturation**slope)


        def media_mix(spend, fourier, y=None):
            """Sales = baseline + seasonality + sum_c beta_c * hill(adstock(spend_c))."""
            n_channels = spend.shape[1]
            with $npr.plate("channels", n_channels):
                decay = $npr.sample("decay", $dist.Beta(3.0, 3.0))
                half = $npr.sample("half_saturation", $dist.Gamma(2.0, 2.0))
                slope = $npr.sample("slope", $dist.Gamma(3.0, 2.0))
                beta = $npr.sample("beta", $dist.HalfNormal(1.0))
            with $npr.plate("seasonal_terms", fourier.shape[1]):
                gamma = $npr.sample("gamma", $dist.Normal(0.0, 0.5))
            base = $npr.sample("base", $dist.Normal($intercept, 2.0))
            sigma = $npr.sample("sigma", $dist.HalfNormal(0.5))
            contributions = $npr.deterministic("contributions", beta * hill(geometric_adstock(spend, decay), half, slope))
            mu = base + fourier @ gamma + contributions.sum(-1)
            with $npr.plate("weeks", spend.shape[0]):
                $npr.sample("y", $dist.Normal(mu, sigma), obs=y)


        def linear_media(spend, fourier, y=None):
            """No carry-over and no saturation: the model most teams start from."""
            with $npr.plate("channels", spend.shape[1]):
                beta = $npr.sample("beta", $dist.HalfNormal(1.0))
            with $npr.plate("seasonal_terms", fourier.shape[1]):
                gamma = $npr.sample("gamma", $dist.Normal(0.0, 0.5))
            base = $npr.sample("base", $dist.Normal($intercept, 2.0))
            sigma = $npr.sample("sigma", $dist.HalfNormal(0.5))
            with $npr.plate("weeks", spend.shape[0]):
                $npr.sample("y", $dist.Normal(base + fourier @ gamma + spend @ beta, sigma), obs=y)
        '''
    return [Model(T(code, ctx, "jnp", lags=lags), "media_mix", MMM_ARGS, 'y=data["y"]'),
            Model(Block(""), "linear_media", MMM_ARGS, 'y=data["y"]', pick(rng, ["mcmc", "svi"]))]


OCC_ARGS = 'data["habitat"], data["effort"]'


def m_occupancy(ctx, rng):
    code = '''
        def site_occupancy(habitat, effort, detections=None):
            """MacKenzie et al. (2002): occupancy z_i is summed out of the likelihood."""
            a_psi = $npr.sample("a_psi", $dist.Normal(0.0, 1.5))
            b_psi = $npr.sample("b_psi", $dist.Normal(0.0, 1.0))
            a_p = $npr.sample("a_p", $dist.Normal(0.0, 1.5))
            b_p = $npr.sample("b_p", $dist.Normal(0.0, 1.0))
            psi = jax.nn.sigmoid(a_psi + b_psi * habitat)
            p = jax.nn.sigmoid(a_p + b_p * effort)
            $npr.deterministic("psi", psi)
            if detections is None:
                return
            log_detect = jnp.sum($dist.Bernoulli(probs=p).log_prob(detections), axis=-1)
            never_seen = detections.sum(-1) == 0
            ll = jnp.where(
                never_seen,
                jnp.logaddexp(jnp.log(psi) + log_detect, jnp.log1p(-psi)),
                jnp.log(psi) + log_detect,
            )
            $npr.factor("occupancy_loglik", ll.sum())


        def n_mixture(habitat, effort, counts=None, n_max=$n_max):
            """Royle (2004) N-mixture: abundance N_i ~ Poisson(lambda_i), counts ~ Binomial(N_i, p),
            with N_i summed out up to n_max."""
            a_lam = $npr.sample("a_lam", $dist.Normal(0.0, 2.0))
            b_lam = $npr.sample("b_lam", $dist.Normal(0.0, 1.0))
            a_p = $npr.sample("a_p", $dist.Normal(0.0, 1.5))
            lam = jnp.exp(a_lam + b_lam * habitat)
            p = jax.nn.sigmoid(a_p + 0.0 * effort)
            if counts is None:
                return
            N = jnp.arange(n_max + 1)
            log_prior = $dist.Poisson(lam[:, None]).log_prob(N[None, :])
            log_obs = $dist.Binomial(N[None, :, None], probs=p[:, None, :]).log_prob(counts[:, None, :]).sum(-1)
            valid = N[None, :] >= counts.max(-1, keepdims=True)
            ll = logsumexp(jnp.where(valid, log_prior + log_obs, -jnp.inf), axis=-1)
            $npr.factor("nmixture_loglik", ll.sum())
        '''
    return [Model(T(code, ctx, "jax jnp logsumexp", n_max=pick(rng, ["40", "50", "60"])), "site_occupancy",
                  OCC_ARGS, 'detections=data["detections"]'),
            Model(Block(""), "n_mixture", OCC_ARGS, 'counts=data["counts"]')]


MODELS = {
    "reg": [m_pooled, m_varying_intercept, m_varying_slopes, m_horseshoe, m_spline, m_errors_in_variables],
    "bin": [m_logistic, lambda c, r: m_varying_intercept(c, r, "logit"), lambda c, r: m_horseshoe(c, r, "logit"),
            m_bnn],
    "cnt": [lambda c, r: m_count(c, r, "poisson"), lambda c, r: m_count(c, r, "negbin"),
            lambda c, r: m_count(c, r, "zip"), m_hurdle],
    "ts": [m_ar, m_local_linear_trend, m_fourier_trend, m_holt_winters],
    "fin": [m_stochastic_volatility, m_garch, m_ar],
    "tsc": [m_dynamic_poisson, m_renewal, m_changepoint],
    "surv": [m_weibull, m_lognormal_aft, m_piecewise, m_cure],
    "irt": [m_rasch, m_2pl, lambda c, r: m_2pl(c, r, guessing=True), m_graded],
    "mix": [m_gmm_diag, m_gmm_full, m_gmm_enum, m_dp],
    "gp": [m_gp_exact, m_hsgp, m_gp_latent],
    "pairs": [m_bradley_terry, m_attack_defence, m_ordered_outcome],
    "meta": [lambda c, r, v=v: m_meta(c, r, v) for v in ("fixed", "centered", "reparam", "student")],
    "binom": [lambda c, r: m_binom(c, r, "logit_normal"), lambda c, r: m_binom(c, r, "beta_binomial")],
    "pk": [m_pk],
    "mmm": [m_mmm],
    "occ": [m_occupancy],
}


def data_returns(ctx, rng):
    return [T('''
        def simulate_$stem(T=$n, seed=0):
            """Daily log returns in percent with GARCH-like volatility clustering and fat tails."""
            rng = np.random.default_rng(seed)
            var = np.empty(T)
            r = np.empty(T)
            var[0] = 1.0
            r[0] = rng.standard_t(5) * np.sqrt(var[0])
            for t in range(1, T):
                var[t] = 0.05 + 0.08 * r[t - 1] ** 2 + 0.9 * var[t - 1]
                r[t] = 0.03 + np.sqrt(var[t]) * rng.standard_t(5) / np.sqrt(5 / 3)
            price = $intercept * np.exp(np.cumsum(r / 100.0))
            dates = pd.bdate_range("2016-01-04", periods=T)
            return pd.DataFrame({"date": dates, "close": price})
        ''', ctx, "np pd"),
        T('''
        def prepare_$stem(df, holdout=$holdout):
            """Percent log returns from closing prices; the last `holdout` days are held out."""
            df = df.sort_values("date").drop_duplicates("date")
            returns = 100.0 * np.diff(np.log(df["close"].to_numpy(dtype=np.float64)))
            returns = returns - returns.mean()
            return {
                "y": jnp.asarray(returns[:-holdout], dtype=jnp.float32),
                "y_test": jnp.asarray(returns[-holdout:], dtype=jnp.float32),
                "dates": df["date"].to_numpy()[1:],
                "T": len(returns) - holdout,
                "holdout": holdout,
            }
        ''', ctx, "jnp np"), loader(ctx, rng)]


DATA["fin"] = data_returns


# ---------------------------------------------------------------------------------------------
# Inference drivers, fit wrappers, evaluation, plots, main
# ---------------------------------------------------------------------------------------------

def driver_mcmc(ctx, rng):
    if rng.random() < 0.5:
        return T('''
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
            ''', ctx, "MCMC NUTS perf_counter")
    return T('''
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
        ''', ctx, "MCMC NUTS init_to_median summary jnp")


def driver_svi(ctx, rng):
    if rng.random() < 0.4:
        return T('''
            def run_svi(model, rng_key, settings, *model_args, **model_kwargs):
                """SVI with a hand-written loop: jit the update, stop once the loss has flattened."""
                guide = AutoNormal(model, init_loc_fn=init_to_sample)
                svi = SVI(model, guide, Adam(settings.learning_rate), loss=Trace_ELBO())
                rng_key_init, rng_key_post = $rnd.split(rng_key)
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
            ''', ctx, "AutoNormal init_to_sample SVI Adam Trace_ELBO jax np")
    guide = pick(rng, ["AutoNormal", "AutoLowRankMultivariateNormal", "AutoMultivariateNormal"])
    opt = pick(rng, ["Adam", "ClippedAdam"])
    return T('''
        def run_svi(model, rng_key, settings, *model_args, guide_class=$guide, **model_kwargs):
            """Fit an autoguide and return posterior draws in the same format as MCMC."""
            guide = guide_class(model)
            svi = SVI(model, guide, $opt(settings.learning_rate), Trace_ELBO(num_particles=settings.num_particles))
            rng_key, rng_key_post = $rnd.split(rng_key)
            result = svi.run(rng_key, settings.num_steps, *model_args, progress_bar=False, **model_kwargs)
            samples = guide.sample_posterior(
                rng_key_post, result.params, *model_args, sample_shape=(settings.num_samples,), **model_kwargs
            )
            return samples, result.losses
        ''', ctx, f"SVI Trace_ELBO {guide} {opt}", guide=guide, opt=opt)


def fit_wrapper(m: Model, rng) -> str:
    kw = f", {m.kwargs}" if m.kwargs else ""
    if m.engine == "mcmc":
        if rng.random() < 0.5:
            return (f"def fit_{m.name}(data, rng_key, settings):\n"
                    f"    mcmc = run_mcmc({m.name}, rng_key, settings, {m.args}{kw})\n"
                    f"    return mcmc.get_samples()")
        return (f"def fit_{m.name}(data, rng_key, settings):\n"
                f'    """NUTS fit of `{m.name}`; returns the posterior draws, deterministic sites included."""\n'
                f"    mcmc = run_mcmc(\n        {m.name},\n        rng_key,\n        settings,\n"
                f"        {m.args},\n" + (f"        {m.kwargs},\n" if m.kwargs else "") + "    )\n"
                "    return mcmc.get_samples()")
    if m.engine == "svi":
        return (f"def fit_{m.name}(data, rng_key, settings):\n"
                f"    samples, losses = run_svi({m.name}, rng_key, settings, {m.args}{kw})\n"
                f'    print(f"{m.name}: final loss {{float(losses[-1]):.1f}} after {{len(losses)}} steps")\n'
                f"    return samples")
    return ""


OBS_SITE = {"reg": "$y", "bin": "$y", "cnt": "$y", "ts": "y", "fin": "y", "tsc": "y", "irt": None, "mix": "x",
            "gp": None, "pairs": None, "meta": "y", "binom": "successes", "pk": "conc", "mmm": "y",
            "surv": None, "occ": None}
OBS_DATA = {"reg": "y", "bin": "y", "cnt": "y", "ts": "y", "fin": "y", "tsc": "y", "mix": "x", "meta": "y",
            "binom": "successes", "pk": "conc", "mmm": "y"}
SPECIAL_OBS = {"rasch": ("correct", "correct"), "two_pl": ("correct", "correct"),
               "three_pl": ("correct", "correct"), "graded_response": ("rating", "rating"),
               "gp_regression": ("Y", "y"), "hsgp_regression": ("y", "y"), "gp_latent_student_t": ("y", "y"),
               "bradley_terry": ("home_win", "home_win"), "attack_defence": ("home_score", "home_score"),
               "ordered_outcome": ("outcome", "outcome"), "hurdle_poisson": None, "changepoint_model": None,
               "pspline": ("$y", "y"), "gmm_enumerated": None, "bayesian_mlp": None}


def registry(models: list[Model], kind: str, ctx) -> Block:
    lines = ['ModelSpec = namedtuple("ModelSpec", ["model", "fit", "args", "kwargs", "obs_site", "obs_key"])', "",
             "MODELS = {"]
    for m in models:
        if m.name in SPECIAL_OBS:
            pair = SPECIAL_OBS[m.name]
        else:
            site = OBS_SITE.get(kind)
            pair = (site, OBS_DATA.get(kind)) if site else None
        site, key = (f'"{pair[0]}"', f'"{pair[1]}"') if pair else ("None", "None")
        fit = f"fit_{m.name}_map" if m.engine == "custom" else f"fit_{m.name}"
        args = m.args if "," in m.args else m.args + ","
        lines += [f'    "{m.name}": ModelSpec(', f"        {m.name},", f"        {fit},",
                  f"        lambda data: ({args}),", f"        lambda data: dict({m.kwargs}),", f"        obs_site={site},", f"        obs_key={key},", "    ),"]
    lines.append("}")
    return Block(Template("\n".join(lines)).substitute(ctx), {"namedtuple"})


IMPORTS["namedtuple"] = ("std", ("collections", "namedtuple"))
IMPORTS["datetime"] = ("std", ("datetime", "datetime"))
IMPORTS["az"] = ("third", "import arviz as az")


def evaluation(ctx, rng, kind) -> list[Block]:
    variant = rng.randrange(3)
    if variant == 0:
        summarize_fn = "summarize"
        blocks = [T('''
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
            ''', ctx, "hpdi jnp")]
    elif variant == 1:
        summarize_fn = "summarize"
        blocks = [T('''
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
            ''', ctx, "summary jnp")]
    else:
        summarize_fn = "posterior_table"
        blocks = [T('''
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
            ''', ctx, "np pd")]
    use_waic = rng.random() < 0.6
    if use_waic:
        blocks.append(T('''
            def waic(model, samples, *model_args, **model_kwargs):
                """Widely applicable information criterion on the deviance scale (lower is better)."""
                loglik = log_likelihood(model, samples, *model_args, **model_kwargs)
                total = jnp.concatenate([v.reshape(v.shape[0], -1) for v in loglik.values()], axis=1)
                lppd = logsumexp(total, axis=0) - jnp.log(total.shape[0])
                p_waic = jnp.var(total, axis=0)
                return float(-2.0 * (lppd.sum() - p_waic.sum())), float(p_waic.sum())
            ''', ctx, "log_likelihood logsumexp jnp"))
        waic_line = '''
            try:
                metrics["waic"], metrics["p_waic"] = waic(spec.model, samples, *spec.args(data), **spec.kwargs(data))
            except (KeyError, TypeError) as err:
                print(f"{name}: WAIC not available ({err})")'''
    else:
        waic_line = ""
    waic_line = textwrap.dedent(waic_line).strip().replace("\n", "\n    ")
    if rng.random() < 0.5:
        blocks.append(T('''
            def evaluate(name, spec, samples, data, rng_key, prob=0.9):
                """Posterior predictive checks against the observed data, where the model has an observed site."""
                metrics = {"model": name}
                print(f"== {name}")
                $summarize_fn(samples)
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
                $waic_line
                print(f"{name}: coverage {metrics['coverage']:.2f} (target {prob}), rmse {metrics['rmse']:.3f}")
                return metrics
            ''', ctx, "Predictive jnp", waic_line=waic_line, summarize_fn=summarize_fn))
    else:
        blocks.append(T('''
            def evaluate(name, spec, samples, data, rng_key, prob=0.9):
                """Summaries, interval coverage and posterior predictive p-values for the mean and sd."""
                print(f"\\n{name}\\n" + "-" * len(name))
                $summarize_fn(samples)
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
                $waic_line
                for key in ("coverage", "p_mean", "p_sd"):
                    print(f"  {key:>8}: {metrics[key]:.3f}")
                return metrics
            ''', ctx, "Predictive np", waic_line=waic_line, summarize_fn=summarize_fn))
    if rng.random() < 0.5:
        blocks.append(T('''
            def save_results(results, out_dir):
                out_dir = Path(out_dir)
                out_dir.mkdir(parents=True, exist_ok=True)
                with open(out_dir / "metrics.json", "w") as f:
                    json.dump(results, f, indent=2, default=float)
                table = pd.DataFrame(results.values()).set_index("model")
                table.to_csv(out_dir / "metrics.csv")
                print(table.round(3).to_string())
            ''', ctx, "json Path pd"))
    else:
        blocks.append(T('''
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
            ''', ctx, "json Path datetime"))
    return blocks


PLOTS = {
    "group": '''
        def plot_group_effects(samples, levels, site, out_dir, max_groups=40):
            """Forest plot of the per-$group effects, sorted by posterior mean."""
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
        ''',
    "series": '''
        def plot_fit(y, mu_samples, out_path, title=""):
            """Observed series with the posterior mean and a 90% band of the fitted mean."""
            mu = np.asarray(mu_samples)
            if mu.ndim != 2:
                return
            lo, hi = np.percentile(mu, [5, 95], axis=0)
            t = np.arange(len(y))
            fig, ax = plt.subplots(figsize=(10, 4))
            ax.plot(t, np.asarray(y), ".", ms=2, color="k", label="observed")
            ax.plot(t[: mu.shape[1]], mu.mean(0), color="C1", label="posterior mean")
            ax.fill_between(t[: mu.shape[1]], lo, hi, color="C1", alpha=0.3)
            ax.set_title(title)
            ax.legend(loc="upper left")
            fig.savefig(out_path, dpi=150, bbox_inches="tight")
            plt.close(fig)
        ''',
    "km": '''
        def kaplan_meier(time, event):
            """Product-limit estimate; returns step times and survival just after each."""
            order = np.argsort(time)
            time, event = np.asarray(time)[order], np.asarray(event)[order]
            at_risk = len(time) - np.arange(len(time))
            surv = np.cumprod(1.0 - event / at_risk)
            return time, surv


        def plot_survival(data, out_path):
            t, s = kaplan_meier(data["time"], data["event"])
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.step(t, s, where="post", color="k", label="Kaplan-Meier")
            ax.set_xlabel("$time_unit")
            ax.set_ylabel("survival")
            ax.set_ylim(0, 1.02)
            ax.legend()
            fig.savefig(out_path, dpi=150, bbox_inches="tight")
            plt.close(fig)
        ''',
    "trace": '''
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
        ''',
    "scatter": '''
        def plot_clusters(x, samples, out_path):
            """First two dimensions coloured by the most probable component under the posterior mean."""
            x = np.asarray(x)
            locs = np.asarray(samples["locs"]).mean(0)
            d2 = ((x[:, None, :2] - locs[None, :, :2]) ** 2).sum(-1)
            fig, ax = plt.subplots(figsize=(5, 5))
            ax.scatter(x[:, 0], x[:, 1], c=d2.argmin(1), s=4, cmap="tab10")
            ax.scatter(locs[:, 0], locs[:, 1], marker="x", s=80, color="k")
            fig.savefig(out_path, dpi=150, bbox_inches="tight")
            plt.close(fig)
        ''',
}

PLOTS_FOR_KIND = {"reg": ["group", "trace"], "bin": ["group", "trace"], "cnt": ["group", "trace"],
                  "binom": ["group", "trace"], "ts": ["series", "trace"], "fin": ["series", "trace"],
                  "tsc": ["series", "trace"], "surv": ["km", "trace"], "mix": ["scatter", "trace"]}


TRACE_ARVIZ = '''
    def plot_trace(samples, out_path, max_sites=6):
        """ArviZ trace plot of the first few scalar sites (one chain of draws)."""
        scalars = {k: np.asarray(v)[None] for k, v in samples.items() if np.ndim(v) == 1}
        if not scalars:
            return
        idata = az.from_dict(posterior=dict(list(scalars.items())[:max_sites]))
        axes = az.plot_trace(idata, compact=True, figsize=(10, 1.8 * min(len(scalars), max_sites)))
        axes.ravel()[0].figure.savefig(out_path, dpi=120, bbox_inches="tight")
        plt.close("all")
    '''


def plots(ctx, rng, kind) -> list[Block]:
    chosen = PLOTS_FOR_KIND.get(kind, ["trace"])
    blocks = []
    for c in chosen:
        if c == "trace" and rng.random() < 0.4:
            blocks.append(T(TRACE_ARVIZ, ctx, "az plt np"))
        else:
            blocks.append(T(PLOTS[c], ctx, "plt np Path"))
    return blocks


def make_plots_call(kind: str) -> str:
    calls = {"group": '        for site in ("a", "u", "eps", "effects"):\n'
                       '            plot_group_effects(samples, data.get("levels", []), site, out_dir)',
             "series": '        for site in ("mu", "level", "rate", "infections", "volatility", "conditional_volatility"):\n'
                       '            if site in samples:\n'
                       '                plot_fit(data["y"], samples[site], out_dir / f"{name}_{site}.png", title=name)\n'
                       '                break',
             "km": '        plot_survival(data, out_dir / "kaplan_meier.png")',
             "scatter": '        if "locs" in samples:\n            plot_clusters(data["x"], samples, out_dir / f"{name}_clusters.png")',
             "trace": '        plot_trace(samples, out_dir / f"{name}_trace.png")'}
    return "\n".join(calls[c] for c in PLOTS_FOR_KIND.get(kind, ["trace"]))


def main_block(ctx, rng, kind, has_svi) -> Block:
    svi_args = ('''
            parser.add_argument("--num-steps", type=int, default=$num_steps)
            parser.add_argument("--learning-rate", type=float, default=$lr)
            parser.add_argument("--num-particles", type=int, default=1)''' if has_svi else "")
    parse = '''
        def parse_args(argv=None):
            parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
            parser.add_argument("--data", default=DATA_PATH, help="input file (simulated when missing)")
            parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
            parser.add_argument("-n", "--num-samples", type=int, default=$num_samples)
            parser.add_argument("--num-warmup", type=int, default=$num_warmup)
            parser.add_argument("--num-chains", type=int, default=$num_chains)
            parser.add_argument("--target-accept", type=float, default=$target_accept)
            parser.add_argument("--max-tree-depth", type=int, default=10)$svi_args
            parser.add_argument("--seed", type=int, default=0)
            parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
            parser.add_argument("--out", default="results/$stem")
            parser.add_argument("--plot", action="store_true")
            parser.add_argument("-v", "--verbose", action="store_true")
            return parser.parse_args(argv)
        '''
    parse = Template(parse).safe_substitute(svi_args=Template(textwrap.dedent(svi_args)).safe_substitute()
                                            .replace("\n", "\n            "))
    if rng.random() < 0.5:
        main_needs = "argparse Path"
        main = '''

        def main(settings):
            $npr.set_platform(settings.device)
            $npr.set_host_device_count(settings.num_chains)
            data = load_$stem(settings.data, seed=settings.seed)
            out_dir = Path(settings.out)
            out_dir.mkdir(parents=True, exist_ok=True)
            rng_key = $rnd.PRNGKey(settings.seed)
            results = {}
            for name in settings.models:
                spec = MODELS[name]
                rng_key, key_fit, key_eval = $rnd.split(rng_key, 3)
                samples = spec.fit(data, key_fit, settings)
                results[name] = evaluate(name, spec, samples, data, key_eval)
                if settings.plot:
        $plot_calls
            save_results(results, out_dir)


        if __name__ == "__main__":
            main(parse_args())
        '''
    else:
        main_needs = "argparse Path jax perf_counter"
        main = '''

        def main():
            settings = parse_args()
            $npr.set_platform(settings.device)
            if settings.num_chains > 1:
                $npr.set_host_device_count(settings.num_chains)
            print(f"jax {jax.__version__}, numpyro {$npr.__version__}, devices: {jax.devices()}")
            data = load_$stem(settings.data, seed=settings.seed)
            keys = $rnd.split($rnd.PRNGKey(settings.seed), 2 * len(settings.models))
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
        $plot_calls
            save_results(results, out_dir)
            return results


        if __name__ == "__main__":
            main()
        '''
    plot_calls = "\n".join("    " + line for line in make_plots_call(kind).split("\n"))
    block = T(parse + main, ctx, main_needs, plot_calls=plot_calls,
              num_samples=pick(rng, ["1000", "2000", "500"]), num_warmup=pick(rng, ["1000", "500", "1500"]),
              num_chains=pick(rng, ["1", "2", "4"]), target_accept=pick(rng, ["0.8", "0.9", "0.95"]),
              num_steps=pick(rng, ["5000", "10000", "20000"]), lr=pick(rng, ["0.01", "0.005", "0.02"]))
    return block


# ---------------------------------------------------------------------------------------------
# Topics: one output file each
# ---------------------------------------------------------------------------------------------

def plural(word):
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + ("es" if word.endswith(("ch", "sh", "s", "x")) else "s")


def tab(stem, title, blurb, kind, y, group, features, coefs, **kw):
    base = {"stem": stem, "title": title, "blurb": blurb, "kind": kind, "y": y, "group": group,
            "groups": plural(group), "features": features, "coefs": coefs, "n": 1200, "n_groups": 40,
            "group_sd": 0.5, "group_prefix": group[:2].upper(), "intercept": 1.0, "noise": 0.8,
            "y_center": 0.0, "unit": "observation", "units": "observations", "exposure": "exposure",
            "log_base": -1.0, "data_file": f"{stem}.csv"}
    base.update(kw)
    return base


TOPICS = [
    tab("radon_multilevel", "Multilevel models of household radon in Minnesota",
        "Log radon measured in homes, grouped by county, with the floor of the measurement and the "
        "county's soil uranium as predictors. Gelman & Hill (2007), chapters 12-13.",
        "reg", "log_radon", "county", ["floor", "log_uranium", "basement_age"], [-0.7, 0.7, 0.05],
        n=919, n_groups=85, intercept=1.3, noise=0.75, y_center=1.3, unit="household", units="households",
        models=[0, 1, 2, 5]),
    tab("school_test_scores", "Student achievement across schools",
        "Standardized maths scores of pupils nested in schools; predictors are prior attainment, "
        "free-school-meal eligibility and class size. The question is how much of the variation is "
        "between schools once intake is accounted for.",
        "reg", "math_score", "school", ["prior_score", "fsm", "class_size", "female"], [0.6, -0.3, -0.05, 0.1],
        n=2400, n_groups=120, intercept=0.0, noise=0.6, unit="pupil", units="pupils", models=[0, 1, 2, 3]),
    tab("crop_yield_trials", "Variety trials: wheat yield across farms",
        "Plot-level yields (t/ha) from on-farm variety trials, grouped by farm, with nitrogen rate, "
        "sowing date and rainfall anomaly as predictors. Spline terms capture the nitrogen response.",
        "reg", "yield_t_ha", "farm", ["nitrogen", "sowing_day", "rain_anomaly"], [0.4, -0.2, 0.3],
        n=900, n_groups=60, intercept=6.5, noise=0.7, y_center=6.5, unit="plot", units="plots",
        models=[0, 1, 4, 5]),
    tab("sleep_deprivation", "Reaction times under sleep deprivation",
        "Average reaction time per day of sleep restriction for each subject (sleepstudy-like data). "
        "Subjects differ in baseline and in how fast they deteriorate: varying slopes are the point.",
        "reg", "reaction_ms", "subject", ["days", "caffeine", "age"], [1.0, -0.2, 0.1],
        n=540, n_groups=54, intercept=2.5, noise=0.3, y_center=2.5, group_sd=0.4, unit="session",
        units="sessions", models=[0, 2, 1]),
    tab("housing_prices", "Hedonic regression of house prices",
        "Log sale prices of houses with many correlated characteristics; most coefficients should be "
        "near zero, hence the shrinkage priors. Neighbourhoods form the groups.",
        "reg", "log_price", "neighbourhood",
        ["living_area", "lot_size", "age", "bathrooms", "garage", "distance_cbd", "school_rating", "noise_db"],
        [0.5, 0.1, -0.2, 0.15, 0.05, -0.3, 0.2, 0.0], n=1500, n_groups=35, intercept=12.5, noise=0.25,
        y_center=12.5, unit="sale", units="sales", models=[0, 3, 1, 5]),
    tab("credit_default", "Probability of default for retail loans",
        "Loan-level default indicator with borrower and loan characteristics, grouped by branch. "
        "Compares a pooled logistic regression, branch effects, a horseshoe and a small Bayesian MLP.",
        "bin", "default", "branch", ["income", "debt_to_income", "loan_amount", "credit_age", "inquiries"],
        [-0.8, 1.0, 0.3, -0.4, 0.5], n=3000, n_groups=25, intercept=-2.0, unit="loan", units="loans",
        models=[0, 1, 2, 3]),
    tab("hospital_readmission", "Thirty-day readmission after discharge",
        "Binary readmission within 30 days for discharges from many hospitals. Hospital-level "
        "intercepts are what a hospital-comparison report needs.",
        "bin", "readmitted", "hospital", ["age", "n_prior_admissions", "length_of_stay", "comorbidity_index"],
        [0.2, 0.6, 0.3, 0.4], n=4000, n_groups=80, intercept=-1.7, unit="discharge", units="discharges",
        models=[0, 1, 2]),
    tab("vote_choice_survey", "Individual vote choice from a pre-election survey",
        "Whether a respondent intends to vote for the incumbent, with demographics, and the state as the "
        "grouping: the first stage of multilevel regression and poststratification (MRP).",
        "bin", "vote_incumbent", "state", ["age_std", "income_std", "education", "urban", "female"],
        [0.2, 0.3, -0.4, -0.3, 0.1], n=2500, n_groups=50, intercept=0.1, unit="respondent", units="respondents",
        models=[1, 0, 3]),
    tab("insurance_claims", "Motor insurance claim frequency",
        "Number of claims per policy with the policy-years of exposure as offset, grouped by region. "
        "Compares Poisson, negative binomial, zero-inflated and hurdle models for the excess zeros.",
        "cnt", "n_claims", "region", ["driver_age", "vehicle_power", "bonus_malus", "urban_density"],
        [-0.2, 0.15, 0.5, 0.2], n=4000, n_groups=22, intercept=-2.2, log_base=-2.0, unit="policy",
        units="policies", exposure="policy_years", models=[0, 1, 2, 3]),
    tab("species_abundance", "Bird counts along transects",
        "Counts of a focal species per transect walk with survey effort as exposure, grouped by site; "
        "habitat covariates from land-cover maps.",
        "cnt", "count", "site", ["forest_cover", "elevation", "temperature"], [0.6, -0.3, 0.2],
        n=1500, n_groups=90, intercept=0.5, log_base=0.5, unit="walk", units="walks",
        exposure="effort_hours", models=[0, 1, 2]),
    tab("gene_expression_counts", "Differential expression from RNA-seq counts",
        "Read counts for one gene across samples with library size as exposure, grouped by batch; "
        "treatment and covariates as predictors. Negative binomial is the standard; zero inflation "
        "is tested for.",
        "cnt", "reads", "batch", ["treatment", "rin", "age"], [0.8, 0.1, 0.05], n=800, n_groups=12,
        intercept=3.0, log_base=3.0, unit="sample", units="samples", exposure="library_size",
        models=[1, 2, 0]),
    tab("hospital_mortality_rates", "Surgical mortality across hospitals",
        "Deaths out of operations per hospital with case-mix covariates; beta-binomial and logit-normal "
        "models for the overdispersion (cf. the BUGS 'surgical' example).",
        "binom", "deaths", "hospital", ["case_mix", "volume", "teaching"], [0.3, -0.2, -0.1],
        n_groups=160, intercept=-3.0, successes="deaths", trials="operations", models=[0, 1]),
    tab("ab_test_conversions", "Conversion rates for many page variants",
        "Conversions out of visitors for each variant across several experiments, with design features "
        "of the variant as predictors; partial pooling keeps small variants honest.",
        "binom", "conversions", "variant", ["hero_image", "price_shown", "cta_length", "mobile_share"],
        [0.1, -0.2, 0.05, -0.1], n_groups=240, intercept=-2.5, successes="conversions", trials="visitors",
        models=[1, 0]),
    dict(stem="retail_demand", title="Daily demand forecasting for a retail product", kind="ts",
         blurb="Daily units sold (log scale) for one product: trend, yearly and weekly seasonality, and "
               "a 28-day holdout to compare forecasts.",
         y="log_units", y_label="log daily units", n=730, period=7, intercept=3.0, noise=0.2, freq="D",
         holdout=28, data_file="retail_demand.csv", models=[0, 1, 2, 3]),
    dict(stem="energy_load", title="Hourly-aggregated electricity load", kind="ts",
         blurb="Daily peak electricity load (GW) for a regional grid with strong weekly seasonality; "
               "exponential smoothing against structural models.",
         y="peak_gw", y_label="daily peak load (GW)", n=600, period=7, intercept=30.0, noise=0.5, freq="D",
         holdout=21, data_file="energy_load.csv", models=[3, 2, 0]),
    dict(stem="river_levels", title="River gauge levels", kind="ts",
         blurb="Weekly mean river level at a gauging station; a local linear trend captures slow "
               "changes, an AR term the short memory.",
         y="level_m", y_label="weekly mean level (m)", n=520, period=52, intercept=2.0, noise=0.15,
         freq="W", holdout=26, data_file="river_levels.csv", models=[1, 0, 2]),
    dict(stem="equity_volatility", title="Volatility of daily equity index returns", kind="fin",
         blurb="Daily percent log returns of an equity index; stochastic volatility against GARCH(1,1) "
               "and a plain AR baseline for the mean.",
         y="returns", y_label="daily log return (%)", n=1500, intercept=100.0, holdout=50,
         data_file="index_prices.csv", period=5, models=[0, 1, 2]),
    dict(stem="fx_risk", title="Exchange-rate risk for a currency pair", kind="fin",
         blurb="Percent log returns of a currency pair; the volatility path feeds a value-at-risk "
               "estimate. Two volatility models are compared out of sample.",
         y="returns", y_label="daily log return (%)", n=1200, intercept=1.1, holdout=40,
         data_file="eurusd.csv", period=5, models=[1, 0]),
    dict(stem="epidemic_nowcast", title="Reproduction number from daily case counts", kind="tsc",
         blurb="Reported daily cases in an epidemic wave; a renewal-equation model for R_t, a dynamic "
               "Poisson model, and a single change point as the crude alternative.",
         y="cases", y_label="reported cases", n=180, period=7, intercept=3.0, holdout=14,
         data_file="daily_cases.csv", freq="D", noise=0.1, models=[1, 0, 2]),
    dict(stem="traffic_incidents", title="Traffic incidents per day on a motorway network", kind="tsc",
         blurb="Daily incident counts; did the new speed limit change the rate? A change-point model "
               "against a dynamic Poisson level.",
         y="incidents", y_label="incidents per day", n=365, period=7, intercept=1.5, holdout=14,
         data_file="incidents.csv", freq="D", noise=0.1, models=[2, 0]),
    dict(stem="clinical_trial_survival", title="Time to progression in a randomized trial", kind="surv",
         blurb="Progression-free survival in a two-arm trial with baseline covariates; Weibull and "
               "log-normal AFT models, a piecewise-exponential proportional hazards model and a cure model.",
         features=["treatment", "age", "ecog", "ldh"], coefs=[-0.6, 0.1, 0.4, 0.3], n=600,
         censor_time=36.0, time_unit="months", intercept=2.5, time_col="pfs_months", event_col="progressed",
         units="patients", unit="patient", data_file="trial_pfs.csv", models=[0, 1, 2, 3]),
    dict(stem="customer_churn", title="Time to churn for subscription customers", kind="surv",
         blurb="Tenure until cancellation for subscribers, censored at the data extract; plan and usage "
               "covariates. Some customers never churn, hence the cure model.",
         features=["monthly_fee", "usage_hours", "support_calls", "annual_plan"], coefs=[0.3, -0.5, 0.4, -0.8],
         n=2000, censor_time=24.0, time_unit="months", intercept=3.0, time_col="tenure", event_col="churned",
         units="customers", unit="customer", data_file="churn.csv", models=[3, 0, 2]),
    dict(stem="component_fatigue", title="Fatigue life of welded components", kind="surv",
         blurb="Cycles to failure (thousands) of welded joints under different stress amplitudes; "
               "run-outs are right-censored at the end of the test.",
         features=["stress_amplitude", "plate_thickness", "weld_angle"], coefs=[1.2, -0.2, 0.3], n=300,
         censor_time=2000.0, time_unit="kilocycles", intercept=6.0, time_col="kcycles", event_col="failed",
         units="specimens", unit="specimen", data_file="fatigue.csv", models=[0, 1]),
    dict(stem="exam_item_response", title="Item response models for a certification exam", kind="irt",
         blurb="Right/wrong answers of candidates to exam items plus a Likert confidence rating per item; "
               "Rasch, 2PL and 3PL for the answers, a graded response model for the ratings.",
         n_persons=500, n_items=40, n_levels=5, person="candidate", item="question", persons="candidates",
         items="questions", data_file="exam_responses.csv", models=[0, 1, 2, 3]),
    dict(stem="survey_scale_validation", title="Validating a wellbeing questionnaire", kind="irt",
         blurb="Responses to a 20-item wellbeing questionnaire on a 4-point scale; the graded response "
               "model is the main model, the dichotomized 2PL a robustness check.",
         n_persons=800, n_items=20, n_levels=4, person="respondent", item="statement",
         persons="respondents", items="statements", data_file="wellbeing.csv", models=[3, 1]),
    dict(stem="customer_segments", title="Customer segmentation from spending patterns", kind="mix",
         blurb="Standardized recency, frequency and monetary value per customer; how many segments, and "
               "how separated? Finite Gaussian mixtures and a truncated Dirichlet process.",
         features=["recency", "frequency", "monetary", "tenure"], features_text="recency, frequency, monetary value and tenure",
         n=1500, n_clusters=4, K=4, units="customers", unit="customer", data_file="rfm.csv", models=[0, 1, 3]),
    dict(stem="cell_populations", title="Cell populations in flow cytometry", kind="mix",
         blurb="Two fluorescence channels and forward/side scatter per cell (log scale); populations are "
               "mixture components, and the enumerated version gives per-cell responsibilities.",
         features=["fsc", "ssc", "cd4", "cd8"], features_text="scatter and two fluorescence markers",
         n=3000, n_clusters=5, K=5, units="cells", unit="cell", data_file="cytometry.csv", models=[0, 2, 3]),
    dict(stem="co2_concentration", title="Gaussian process regression for atmospheric CO2", kind="gp",
         blurb="Monthly CO2 anomalies after removing the linear trend; exact GP, a Hilbert-space "
               "approximation and a latent GP with Student-t noise for the outlying months.",
         y="co2_anomaly", y_label="CO2 anomaly (ppm)", x_label="months since 1990", x_max=400.0,
         x_col="month", n=300, intercept=0.0, noise=0.3, n_test=200, units="months", unit="month",
         data_file="co2_monthly.csv", models=[0, 1, 2]),
    dict(stem="soil_moisture_transect", title="Soil moisture along a hillslope transect", kind="gp",
         blurb="Volumetric soil moisture measured along a 500 m transect; smooth spatial variation with "
               "a wet hollow, modelled as a GP in distance.",
         y="moisture", y_label="volumetric soil moisture (%)", x_label="distance (m)", x_max=500.0,
         x_col="distance_m", n=150, intercept=25.0, noise=0.4, n_test=150, units="cores", unit="core",
         data_file="transect.csv", models=[0, 2, 1]),
    dict(stem="football_ratings", title="Team ratings from league results", kind="pairs",
         blurb="Scores of league matches over several seasons; Bradley-Terry on wins, Poisson "
               "attack/defence on goals, and an ordered logistic on win/draw/loss.",
         n_teams=20, n_rounds=3, team_prefix="FC", teams="teams", games="matches",
         data_file="matches.csv", models=[0, 1, 2]),
    dict(stem="chess_ratings", title="Paired-comparison ratings for a chess club", kind="pairs",
         blurb="Club games with the player having white as 'home'; strengths on the logit scale and a "
               "first-move advantage.",
         n_teams=30, n_rounds=2, team_prefix="P", teams="players", games="games",
         data_file="club_games.csv", models=[0, 2]),
    dict(stem="meta_analysis_interventions", title="Random-effects meta-analysis of an intervention",
         kind="meta",
         blurb="Standardized mean differences from randomized trials of a behavioural intervention, with "
               "their standard errors. Common-effect, random-effects (centered and non-centered) and "
               "heavy-tailed random-effects models.",
         n_studies=14, study_prefix="Trial ",
         estimates="[0.28, 0.12, 0.45, -0.05, 0.31, 0.22, 0.60, 0.09, 0.18, 0.37, 0.02, 0.25, 0.51, 0.14]",
         std_errors="[0.12, 0.10, 0.20, 0.15, 0.11, 0.09, 0.25, 0.14, 0.08, 0.16, 0.13, 0.10, 0.22, 0.12]",
         data_file="trials.csv", models=[0, 1, 2, 3]),
    dict(stem="population_pharmacokinetics", title="Population pharmacokinetics of an oral drug", kind="pk",
         blurb="Plasma concentrations after a single oral dose in healthy volunteers; a one-compartment "
               "model with first-order absorption and log-normal between-subject variability.",
         n_subjects=24, dose=320.0, data_file="pk_conc.csv", models=[0]),
    dict(stem="marketing_mix", title="Marketing mix model for weekly sales", kind="mmm",
         blurb="Weekly sales (log scale) against spend in four media channels, with geometric adstock and "
               "Hill saturation, compared with a linear baseline.",
         y="log_sales", y_label="log weekly sales", n=156, intercept=5.0, data_file="weekly_media.csv",
         models=[0]),
    dict(stem="species_occupancy", title="Occupancy and abundance of an amphibian species", kind="occ",
         blurb="Repeated visits to ponds: detection/non-detection histories for occupancy, and counts "
               "for an N-mixture abundance model; habitat quality and survey effort as covariates.",
         n_sites=200, n_visits=4, data_file="pond_surveys.csv", models=[0]),
]


DEFAULTS = {"unit": "observation", "units": "observations", "period": 7, "K": 3, "time_unit": "time",
            "y_center": "0.0", "intercept": 0.0, "log_base": "0.0", "group": "group", "groups": "groups",
            "y": "y", "holdout": 20}

PRIOR_CHECK = '''
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
    '''


def model_doc(code: str, name: str) -> str:
    """The first sentence of the model's docstring."""
    start = code.find(f"def {name}(")
    if start < 0:
        return ""
    open_ = code.find('"""', start)
    close = code.find('"""', open_ + 3)
    if open_ < 0 or close < 0:
        return ""
    text = " ".join(code[open_ + 3:close].split())
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]


def inject_smell(models: list[Model], rng: random.Random, style: dict) -> None:
    """Some files carry the mistakes real research code has: a print left in, a vague prior."""
    roll = rng.random()
    candidates = [m for m in models if m.block.code]
    if roll > 0.35 or not candidates:
        return
    m = pick(rng, candidates)
    lines = m.block.code.split("\n")
    marker = f' = {style["npr"]}.sample("'
    for i, line in enumerate(lines):
        if marker in line and line.startswith("    ") and not line.startswith("        "):
            var = line.strip().split(" = ")[0]
            if roll < 0.15:
                lines.insert(i + 1, f'    print("{var}:", {var})')
            elif roll < 0.25:
                lines[i] = line.replace("Normal(0.0, 1.0)", "Normal(0.0, 100.0)").replace(
                    "Normal(0.0, 2.0)", "Normal(0.0, 1000.0)")
            else:
                lines[i] = line.replace("HalfNormal(1.0)", "Gamma(0.001, 0.001)").replace(
                    "HalfNormal(0.5)", "InverseGamma(0.001, 0.001)")
            break
    m.block.code = "\n".join(lines)


def compose(topic: dict, index: int) -> str:
    rng = random.Random(f"{SEED}-{topic['stem']}")
    style = STYLES[index % len(STYLES)]
    ctx = {**DEFAULTS, **{k: v for k, v in topic.items() if not isinstance(v, list)}, **style}
    ctx["coefs"] = repr(topic.get("coefs", []))
    kind = topic["kind"]

    data_blocks = DATA[kind](ctx, rng)
    model_fns = MODELS[kind]
    models: list[Model] = []
    for i in topic["models"]:
        made = model_fns[i](ctx, rng)
        models.extend(made if isinstance(made, list) else [made])
    inject_smell(models, rng, style)
    engines = {m.engine for m in models}
    infra = []
    if "mcmc" in engines:
        infra.append(driver_mcmc(ctx, rng))
    if "svi" in engines:
        infra.append(driver_svi(ctx, rng))
    wrappers = [Block(w) for w in (fit_wrapper(m, rng) for m in models) if w]
    tail = [registry(models, kind, ctx)] + evaluation(ctx, rng, kind)
    if rng.random() < 0.5:
        tail.append(T(PRIOR_CHECK, ctx, "Predictive jnp"))
    tail += plots(ctx, rng, kind)
    tail.append(main_block(ctx, rng, kind, has_svi=bool(engines & {"svi", "custom"})))

    sections = [("Data", data_blocks), ("Models", [m.block for m in models if m.block.code]),
                ("Inference", infra + wrappers), ("Evaluation and plots", tail)]
    needs = {"jnp", "os"}
    for _, blocks in sections:
        for b in blocks:
            needs |= b.needs

    names = [m.name for m in models]
    docs = "\n".join(f"    {m.name}: {model_doc(m.block.code, m.name) or 'see below.'}" for m in models)
    for m in models:
        if not m.block.code:  # defined inside another model's block
            owner = next(o for o in models if f"def {m.name}(" in o.block.code)
            docs = docs.replace(f"    {m.name}: see below.", f"    {m.name}: {model_doc(owner.block.code, m.name)}")
    docs = "\n".join(textwrap.fill(line, 100, subsequent_indent=" " * 8) for line in docs.split("\n"))
    blurb = textwrap.fill(topic["blurb"], 96)
    header = (f'"""{topic["title"]}.\n\n{blurb}\n\nModels:\n{docs}\n\nUsage:\n'
              f'    python {topic["stem"]}.py --models {" ".join(names[:2])} --num-samples 1000 --plot\n\n'
              f'Data: data/{topic["data_file"]}; when the file is missing a simulated data set with the same\n'
              f'columns is used, so the script always runs end to end.\n"""')
    consts = []
    env = topic["stem"].upper() + "_DATA"
    consts.append(pick(rng, [f'DATA_PATH = os.environ.get("{env}", "data/{topic["data_file"]}")',
                             f'DATA_PATH = os.path.join(os.path.dirname(__file__), "data", "{topic["data_file"]}")']))
    if "features" in topic:
        consts.append(f"FEATURES = {topic['features']!r}")
    if kind == "mmm":
        consts.append('CHANNELS = ["tv", "radio", "paid_search", "social"]')
    out = [header, "", render_imports(style, needs), "", "\n".join(consts), ""]
    banner = rng.random() < 0.6
    for title, blocks in sections:
        if banner:
            out += ["", f"# {'-' * 8} {title.lower()} {'-' * (86 - len(title))}", ""]
        for b in blocks:
            out += ["", b.code.rstrip(), ""]
    text = "\n".join(out)
    while "\n\n\n\n" in text:
        text = text.replace("\n\n\n\n", "\n\n\n")
    return text.strip() + "\n"


def main() -> int:
    total = 0
    for old in HERE.glob("*.py"):
        if not old.name.startswith("_"):
            old.unlink()
    for index, topic in enumerate(TOPICS):
        text = compose(topic, index)
        ast.parse(text)  # every generated file must be valid Python
        path = HERE / f"{topic['stem']}.py"
        path.write_text(text, encoding="utf-8")
        n = text.count("\n")
        total += n
        print(f"{n:5d}  {path.name}")
    print(f"{total:5d}  total in {len(TOPICS)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
