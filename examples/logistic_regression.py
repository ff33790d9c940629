# Bayesian logistic regression for a credit-default style data set, written as a class whose
# method is the model, fitted with SVI and an AutoNormal guide.
#
# Expected findings: none
# Must not flag: `self.prior_scale` (an attribute read, not a mutation); `.to_event(1)` on the
#   coefficient vector; the `if y is not None` and `X.ndim` tests; `keys[0]`/`keys[1]` after one split.
import jax
import jax.numpy as jnp
import jax.random as random

import numpyro as npr
from numpyro import distributions as D
from numpyro.infer import SVI, Predictive, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal
from numpyro.optim import Adam


class BayesianLogisticRegression:
    def __init__(self, prior_scale=2.5, num_steps=3000, learning_rate=0.01):
        self.prior_scale = prior_scale
        self.num_steps = num_steps
        self.learning_rate = learning_rate
        self.guide = None
        self.params = None

    def model(self, X, y=None):
        if X.ndim != 2:
            raise ValueError("X must be (num_obs, num_features)")
        num_obs, num_features = X.shape
        intercept = npr.sample("intercept", D.Normal(0.0, self.prior_scale))
        coefs = npr.sample(
            "coefs", D.Normal(jnp.zeros(num_features), self.prior_scale).to_event(1)
        )
        logits = intercept + X @ coefs
        with npr.plate("obs", num_obs):
            npr.sample("default", D.Bernoulli(logits=logits), obs=y)

    def fit(self, rng_key, X, y):
        self.guide = AutoNormal(self.model)
        svi = SVI(self.model, self.guide, Adam(self.learning_rate), Trace_ELBO())
        result = svi.run(rng_key, self.num_steps, X, y, progress_bar=False)
        self.params = result.params
        return result.losses

    def predict_proba(self, rng_key, X, num_samples=500):
        predictive = Predictive(
            self.model, guide=self.guide, params=self.params, num_samples=num_samples
        )
        draws = predictive(rng_key, X)["default"]
        return draws.mean(axis=0)


def make_credit_data(rng_key, n=2000):
    """Standardized income, debt ratio and age; default is rarer for high income, low debt."""
    key_x, key_y = random.split(rng_key)
    X = random.normal(key_x, (n, 3))
    true_logits = -1.5 - 0.8 * X[:, 0] + 1.2 * X[:, 1] - 0.3 * X[:, 2]
    y = random.bernoulli(key_y, jax.nn.sigmoid(true_logits))
    return X, y.astype(jnp.int32)


if __name__ == "__main__":
    keys = random.split(random.PRNGKey(42), 3)
    X, y = make_credit_data(keys[0])
    X_train, y_train, X_test, y_test = X[:1500], y[:1500], X[1500:], y[1500:]

    clf = BayesianLogisticRegression(prior_scale=2.5)
    losses = clf.fit(keys[1], X_train, y_train)
    print(f"final ELBO loss: {losses[-1]:.1f}")

    proba = clf.predict_proba(keys[2], X_test)
    accuracy = jnp.mean((proba > 0.5) == y_test)
    print(f"held-out accuracy: {accuracy:.3f}")
    print("posterior medians:", clf.guide.median(clf.params))
