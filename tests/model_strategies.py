"""Hypothesis strategies that write NumPyro model files: plates, hierarchies, priors, keys, side effects."""

from __future__ import annotations

from hypothesis import strategies as st

IMPORT_STYLES = [
    ("import numpyro\nimport numpyro.distributions as dist\n", "numpyro", "dist."),
    ("import numpyro as npr\nfrom numpyro import distributions as D\n", "npr", "D."),
    ("import numpyro\nfrom numpyro.distributions import Normal, HalfNormal, HalfCauchy, Gamma, Exponential\n",
     "numpyro", ""),
]
SCALES = ["1.0", "2.5", "10", "100", "1000.0", "1e3", "SCALE"]


@st.composite
def prior_line(draw, ns: str, d: str, name: str, indent: str) -> str:
    kind = draw(st.sampled_from(["normal", "halfnormal", "halfcauchy", "gamma", "exponential"]))
    scale = draw(st.sampled_from(SCALES))
    if kind == "normal":
        return f'{indent}{name} = {ns}.sample("{name}", {d}Normal(0, {scale}))\n'
    if kind == "halfnormal":
        return f'{indent}{name} = {ns}.sample("{name}", {d}HalfNormal({scale}))\n'
    if kind == "halfcauchy":
        return f'{indent}{name} = {ns}.sample("{name}", {d}HalfCauchy({scale}))\n'
    if kind == "gamma":
        a = draw(st.sampled_from(["0.001", "2.0", "0.01"]))
        return f'{indent}{name} = {ns}.sample("{name}", {d}Gamma({a}, {a}))\n'
    return f'{indent}{name} = {ns}.sample("{name}", {d}Exponential({draw(st.sampled_from(["0.001", "1.0"]))}))\n'


@st.composite
def model_source(draw) -> str:
    imports, ns, d = draw(st.sampled_from(IMPORT_STYLES))
    lines = [imports, "import jax.numpy as jnp\nfrom jax import random\n", "\nSCALE = 1000.0\n\n\n"]
    lines.append("def model(J, sigma, y=None):\n")
    lines.append(draw(prior_line(ns, d, "mu", "    ")))
    lines.append(f'    tau = {ns}.sample("tau", {d}HalfNormal(5.0))\n')
    centered = draw(st.booleans())
    plated = draw(st.booleans())
    indent = "        " if plated else "    "
    if plated:
        lines.append(f'    with {ns}.plate("J", J):\n')
    if centered:
        lines.append(f'{indent}theta = {ns}.sample("theta", {d}Normal(mu, tau))\n')
    else:
        lines.append(f'{indent}eta = {ns}.sample("eta", {d}Normal(0, 1))\n')
        lines.append(f"{indent}theta = mu + tau * eta\n")
    lines.append(f'{indent}{ns}.sample("obs", {d}Normal(theta, sigma), obs=y)\n')
    if draw(st.booleans()):
        lines.append("    print(mu)\n")
    if draw(st.booleans()):
        lines.append("    buf = jnp.zeros(3)\n    buf[0] = mu\n")
    if draw(st.booleans()):
        lines.append("    if mu > 0:\n        pass\n")
    lines.append("\n\n")
    if draw(st.booleans()):
        lines.append("def run(data):\n    key = random.PRNGKey(0)\n")
        lines.append("    a = random.normal(key)\n")
        if draw(st.booleans()):
            lines.append("    b = random.normal(key)\n")
        else:
            lines.append("    key, sub = random.split(key)\n    b = random.normal(sub)\n")
        lines.append("    return a + b\n")
    return "".join(lines)
