"""What the hover says about a sample site, as the plain functions behind the server compute it:
distribution, support, plates with their dims, and whether the site is observed, reparameterized or
enumerated; with a run's measurements, its shape, prior quantiles and smoke posterior."""

from __future__ import annotations

import textwrap

from numpyro_lint.ir.builder import build_module_ir
from numpyro_lint.runner.protocol import ModelFacts, SiteFacts
from numpyro_lint.server.insight import model_lenses, shape_hints, site_at, site_markdown

SOURCE = textwrap.dedent('''\
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer.reparam import LocScaleReparam
    from numpyro.handlers import reparam


    @reparam(config={"theta": LocScaleReparam(0)})
    def model(J, K, lo, y=None):
        u = numpyro.sample("u", dist.Uniform(lo, 2 * lo))
        with numpyro.plate("J", J):
            theta = numpyro.sample("theta", dist.Normal(0, u))
            with numpyro.plate("K", K, dim=-3):
                z = numpyro.sample("z", dist.Categorical(probs=theta), infer={"enumerate": "parallel"})
        numpyro.sample("n", dist.Poisson(u), obs=y)
''')
MODULE = build_module_ir(SOURCE)
LINES = SOURCE.splitlines()


def hover(fragment: str, facts: ModelFacts | None = None) -> list[str]:
    """The hover on the name string `fragment` of a `sample(...)` call."""
    line = next(number for number, text in enumerate(LINES, 1) if f"sample({fragment}" in text)
    hit = site_at(MODULE, line, LINES[line - 1].index(f"sample({fragment}") + 8)
    assert hit is not None, fragment
    return site_markdown(MODULE, hit, facts).replace("  \n", "\n").splitlines()


def test_a_reparameterized_site_in_a_plate():
    assert hover('"theta"')[:3] == [
        "**theta** ~ `Normal(loc=0, scale=u)`",
        "latent · support: real · reparameterized (`reparam`)",
        "plates: `J` (size `J`, dim -1)",
    ]


def test_support_written_with_the_arguments_and_an_enumerated_discrete_site_with_a_given_dim():
    assert hover('"u"')[1] == "latent · support: interval (lo, 2 * lo)"
    assert hover('"z"')[:3] == [
        "**z** ~ `Categorical(probs=theta)`",
        "latent · support: {0, …, K-1} · enumerated",
        "plates: `J` (size `J`, dim -1) › `K` (size `K`, dim -3)",
    ]
    assert hover('"n"')[1] == "observed (`obs=y`) · support: nonnegative integers"


def test_no_site_on_a_distribution_or_a_keyword():
    line = next(number for number, text in enumerate(LINES, 1) if 'sample("u"' in text)
    assert site_at(MODULE, line, LINES[line - 1].index("Uniform") + 2) is None
    assert site_at(MODULE, 1, 3) is None


FACTS = ModelFacts("model", 4.21, True, 2, 300, 3, 1.08, (
    SiteFacts("theta", "latent", "float32", (20,), (20,), (), (-9.9, 0.01, 10.2),
              tuple(float(i) for i in range(16)), tuple(1.0 + i / 10 for i in range(16)), 1.08, 42.0),
))


def test_a_vector_site_after_a_run_summarises_its_elements():
    text = hover('"theta"', FACTS)
    assert text[3:] == [
        "",
        "---",
        "",
        "shape `f32[20]` · batch `(20,)` · event `()`",
        "prior 5–50–95%: -9.9 · 0.01 · 10.2",
        "smoke posterior (first 16 of 20 elements): mean 0 … 15, sd 1 … 2.5 · R̂ 1.08 · ESS 42",
    ]


def test_lenses_and_hints_after_a_run():
    [lens] = model_lenses(MODULE, {"model": FACTS}, [], running=False)
    assert lens.title == "smoke ok · 2×300 draws · 3 divergences · max R̂ 1.08 · 4.2 s"
    assert [label for _, label in shape_hints(MODULE, {"model": FACTS})] == [": f32[20]"]
    [running] = model_lenses(MODULE, None, None, running=True)
    assert running.title == "$(sync~spin) Smoke run in progress…"
