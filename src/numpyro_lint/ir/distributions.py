"""What rules need to know about numpyro.distributions: signatures (to name positional arguments)
and supports (for support-mismatch)."""

from __future__ import annotations

# Constructor parameters in positional order, as numpyro 0.22 defines them.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "Normal": ("loc", "scale"),
    "LogNormal": ("loc", "scale"),
    "Cauchy": ("loc", "scale"),
    "Laplace": ("loc", "scale"),
    "Logistic": ("loc", "scale"),
    "Gumbel": ("loc", "scale"),
    "StudentT": ("df", "loc", "scale"),
    "HalfNormal": ("scale",),
    "HalfCauchy": ("scale",),
    "TruncatedNormal": ("loc", "scale"),
    "TruncatedCauchy": ("loc", "scale"),
    "LeftTruncatedDistribution": ("base_dist", "low"),
    "Uniform": ("low", "high"),
    "Exponential": ("rate",),
    "Gamma": ("concentration", "rate"),
    "InverseGamma": ("concentration", "rate"),
    "Chi2": ("df",),
    "Beta": ("concentration1", "concentration0"),
    "BetaProportion": ("mean", "concentration"),
    "Weibull": ("scale", "concentration"),
    "Pareto": ("scale", "alpha"),
    "SkewNormal": ("loc", "scale", "skewness"),
    "AsymmetricLaplace": ("loc", "scale", "asymmetry"),
    "VonMises": ("loc", "concentration"),
    "Dirichlet": ("concentration",),
    "MultivariateNormal": ("loc", "covariance_matrix", "precision_matrix", "scale_tril"),
    "MultivariateStudentT": ("df", "loc", "scale_tril"),
    "LowRankMultivariateNormal": ("loc", "cov_factor", "cov_diag"),
    "LKJ": ("dimension", "concentration"),
    "LKJCholesky": ("dimension", "concentration"),
    "Bernoulli": ("probs", "logits"),
    "BernoulliProbs": ("probs",),
    "BernoulliLogits": ("logits",),
    "Binomial": ("total_count", "probs", "logits"),
    "BetaBinomial": ("concentration1", "concentration0", "total_count"),
    "Categorical": ("probs", "logits"),
    "CategoricalProbs": ("probs",),
    "CategoricalLogits": ("logits",),
    "Multinomial": ("total_count", "probs", "logits"),
    "Poisson": ("rate",),
    "NegativeBinomial2": ("mean", "concentration"),
    "NegativeBinomialProbs": ("total_count", "probs"),
    "NegativeBinomialLogits": ("total_count", "logits"),
    "GammaPoisson": ("concentration", "rate"),
    "ZeroInflatedPoisson": ("gate", "rate"),
    "Geometric": ("probs", "logits"),
    "DiscreteUniform": ("low", "high"),
    "Delta": ("v", "log_density", "event_dim"),
    "ImproperUniform": ("support", "batch_shape", "event_shape"),
    "Independent": ("base_dist", "reinterpreted_batch_ndims"),
    "MixtureSameFamily": ("mixing_distribution", "component_distribution"),
    "GaussianRandomWalk": ("scale", "num_steps"),
    "HalfStudentT": ("df", "scale"),
    "Kumaraswamy": ("concentration1", "concentration0"),
    "ZeroSumNormal": ("scale", "event_shape"),
    "EulerMaruyama": ("t", "sde_fn", "init_dist"),
}

LOC_SCALE = frozenset({"Normal", "StudentT", "Cauchy", "Laplace", "Logistic", "Gumbel"})

REAL_SUPPORT = frozenset(
    {"Normal", "StudentT", "Cauchy", "Laplace", "Logistic", "Gumbel", "SkewNormal", "AsymmetricLaplace"}
)
POSITIVE_SUPPORT = frozenset(
    {"HalfNormal", "HalfCauchy", "HalfStudentT", "LogNormal", "Exponential", "Gamma", "InverseGamma",
     "Chi2", "Weibull", "Pareto"}
)
DISCRETE = frozenset(
    {"Bernoulli", "BernoulliProbs", "BernoulliLogits", "Binomial", "BetaBinomial", "Categorical",
     "CategoricalProbs", "CategoricalLogits", "Multinomial", "Poisson", "NegativeBinomial2",
     "NegativeBinomialProbs", "NegativeBinomialLogits", "GammaPoisson", "ZeroInflatedPoisson",
     "Geometric", "DiscreteUniform"}
)

#: Parameters that must be positive, by distribution.
POSITIVE_PARAMS: dict[str, frozenset[str]] = {
    name: frozenset(p for p in params if p in {"scale", "rate", "concentration", "df", "concentration1",
                                                   "concentration0", "alpha"})
    for name, params in SIGNATURES.items()
}


#: Distributions whose every sample is a scalar (empty event shape): array data observed from them is
#: a batch, never one event. Multivariate ones (MultivariateNormal, Dirichlet, Multinomial...) are absent.
SCALAR_EVENT = frozenset(
    {"Normal", "LogNormal", "Cauchy", "Laplace", "Logistic", "Gumbel", "StudentT", "HalfNormal", "HalfCauchy",
     "HalfStudentT", "TruncatedNormal", "TruncatedCauchy", "Uniform", "Exponential", "Gamma", "InverseGamma",
     "Chi2", "Beta", "BetaProportion", "Weibull", "Pareto", "SkewNormal", "AsymmetricLaplace", "Kumaraswamy",
     "VonMises", "Bernoulli", "BernoulliProbs", "BernoulliLogits", "Binomial", "BetaBinomial", "Poisson",
     "NegativeBinomial2", "NegativeBinomialProbs", "NegativeBinomialLogits", "GammaPoisson",
     "ZeroInflatedPoisson", "Geometric", "DiscreteUniform", "Categorical", "CategoricalProbs",
     "CategoricalLogits"}
)
#: Scalar-event distributions whose parameters still carry a dimension of their own (the categories):
#: an array parameter does not make them batched.
LAST_DIM_PARAMS = frozenset({"Categorical", "CategoricalProbs", "CategoricalLogits"})


def name_params(distribution: str | None, n_positional: int) -> tuple[str, ...]:
    """Names for the first `n_positional` arguments: the signature's, else `#0`, `#1`..."""
    signature = SIGNATURES.get(distribution or "", ())
    return tuple(signature[i] if i < len(signature) else f"#{i}" for i in range(n_positional))


#: What values a distribution takes, in words, where it does not depend on the arguments.
SUPPORTS: dict[str, str] = {
    **{name: "real" for name in REAL_SUPPORT},
    **{name: "positive reals" for name in POSITIVE_SUPPORT},
    "Beta": "unit interval (0, 1)", "BetaProportion": "unit interval (0, 1)", "Kumaraswamy": "unit interval (0, 1)",
    "VonMises": "circle [-π, π)", "Dirichlet": "simplex", "MultivariateNormal": "real vector",
    "MultivariateStudentT": "real vector", "LowRankMultivariateNormal": "real vector",
    "GaussianRandomWalk": "real vector", "ZeroSumNormal": "real vector summing to zero",
    "LKJ": "correlation matrix", "LKJCholesky": "Cholesky factor of a correlation matrix",
    "Bernoulli": "{0, 1}", "BernoulliProbs": "{0, 1}", "BernoulliLogits": "{0, 1}",
    "Categorical": "{0, …, K-1}", "CategoricalProbs": "{0, …, K-1}", "CategoricalLogits": "{0, …, K-1}",
    "Poisson": "nonnegative integers", "NegativeBinomial2": "nonnegative integers",
    "NegativeBinomialProbs": "nonnegative integers", "NegativeBinomialLogits": "nonnegative integers",
    "GammaPoisson": "nonnegative integers", "ZeroInflatedPoisson": "nonnegative integers",
    "Geometric": "nonnegative integers", "Multinomial": "counts summing to total_count",
}
#: Supports written with the distribution's own arguments: `{low}` is replaced by the argument's text.
ARGUMENT_SUPPORTS: dict[str, str] = {
    "Uniform": "interval ({low}, {high})", "Binomial": "{{0, …, {total_count}}}",
    "BetaBinomial": "{{0, …, {total_count}}}", "DiscreteUniform": "{{{low}, …, {high}}}",
    "Pareto": "[{scale}, ∞)", "TruncatedNormal": "interval ({low}, {high})",
}
