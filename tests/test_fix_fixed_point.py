"""Fix-all reaches a fixed point in one call, however many rounds it takes; fixes that undo each other
stop the loop and are reported by file name."""

from __future__ import annotations

import textwrap

from numpyro_lint import fixes
from numpyro_lint.cli import main
from numpyro_lint.diagnostic import Applicability, Edit, Fix, Span
from numpyro_lint.fixes.apply import fix_text
from numpyro_lint.linter import DEFAULT_SETTINGS

EIGHT_REUSES = textwrap.dedent("""\
    import jax
    from numpyro.infer import MCMC, NUTS, Predictive

    def run(model, x):
        rng_key = jax.random.PRNGKey(0)
        a = jax.random.normal(rng_key)
        b = jax.random.normal(rng_key)
        c = jax.random.normal(rng_key)
        d = jax.random.normal(rng_key)
        e = jax.random.normal(rng_key)
        f = jax.random.normal(rng_key)
        g = jax.random.normal(rng_key)
        h = jax.random.normal(rng_key)
        i = jax.random.normal(rng_key)
        return a + b + c + d + e + f + g + h + i
""")

PRINTS = textwrap.dedent("""\
    import numpyro
    import numpyro.distributions as dist

    def model():
        x = numpyro.sample("x", dist.Normal(0, 1))
        print(x)
""")


def test_a_chain_of_eight_reused_keys_is_split_in_one_call():
    once = fix_text(EIGHT_REUSES, None, DEFAULT_SETTINGS, unsafe=True)
    assert once.converged
    assert once.text.count("jax.random.split(rng_key)") == 8
    assert [d.code for d in once.remaining if d.code in ("NPL301", "NPL303")] == []
    again = fix_text(once.text, None, DEFAULT_SETTINGS, unsafe=True)
    assert again.applied == 0 and again.text == once.text


def toggling_fixer(diagnostic, module, settings):
    """A broken fixer: adds a comment to the line, or takes it away again."""
    line = module.source.line(diagnostic.span.line)
    if line.endswith("  # toggled"):
        edit = Edit(Span(diagnostic.span.line, len(line) - len("  # toggled"), diagnostic.span.line, len(line)), "")
    else:
        edit = Edit(Span(diagnostic.span.line, len(line), diagnostic.span.line, len(line)), "  # toggled")
    return Fix("toggle", Applicability.SAFE, (edit,))


def test_fixes_that_undo_each_other_stop_and_are_reported(monkeypatch):
    monkeypatch.setitem(fixes.FIXERS, "NPL102", toggling_fixer)
    outcome = fix_text(PRINTS, None, DEFAULT_SETTINGS, unsafe=False)
    assert not outcome.converged
    assert outcome.still_fixable == ["NPL102"]


def test_fix_names_the_file_that_did_not_converge(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(fixes.FIXERS, "NPL102", toggling_fixer)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(PRINTS)
    (tmp_path / "clean.py").write_text("x = 1\n")
    main(["fix", "--isolated", "--select", "NPL102", "."])
    err = capsys.readouterr().err
    assert "model.py: the fixes did not converge" in err and "NPL102" in err
    assert "clean.py" not in err
