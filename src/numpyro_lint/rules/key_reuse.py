"""NPL301 key-reuse and NPL303 key-used-after-split: queries over the key flow in `ir.keyflow`."""

from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic, RelatedLocation, line_reference
from numpyro_lint.ir.keyflow import warmup_receiver
from numpyro_lint.ir.model import KeyEvent, KeyUse, ModuleIR
from numpyro_lint.rules.base import Rule


def describe(use: KeyUse) -> str:
    """`jax.random.normal`, or for a helper: `draw` (which passes it to `jax.random.normal`)."""
    if use.via:
        return f"`{use.consumer}` (which passes it to `{use.via}`)"
    return f"`{use.consumer}`"


def reuses(module: ModuleIR, after_split: bool) -> Iterator[KeyEvent]:
    for function in module.functions:
        for event in function.key_events:
            if event.kind == "reuse" and event.first is not None and event.first.splits == after_split:
                yield event


def related(event: KeyEvent) -> tuple[RelatedLocation, ...]:
    first = event.first
    assert first is not None
    found = []
    if event.loop_span is not None:
        found.append(RelatedLocation(event.loop_span, f"this {event.loop_kind} loop runs the use again"))
    if first.span != event.use.span:
        found.append(RelatedLocation(first.span, f"previous use of `{first.key_text}`, by {describe(first)}"))
    elif event.loop_span is None:
        found.append(RelatedLocation(first.span, "first use"))
    return tuple(found)


class KeyReuse(Rule):
    """## What it does
    Flags a PRNG key consumed twice on one execution path without being rebound in between. Consumers
    are `jax.random` samplers, `jax.random.split`, `MCMC.run`/`warmup`, `Predictive(...)(key)`,
    `SVI.run`/`init`, `guide.sample_posterior`, `Distribution.sample`, `numpyro.handlers.seed`, and
    functions of the same file that consume their key parameter. A key consumed in a loop body that
    the loop does not rebind is consumed again on the next iteration. Branches of an `if` are
    alternatives: one use per branch is fine. `fold_in(key, i)` and `keys[i]` make new keys. The
    message names the latest earlier use of the key.

    Still reported: a key that drew the data and then runs inference on it; a posterior predictive
    with the key the MCMC ran with; a split placed after a draw with the key (JAX's
    `jax_debug_key_reuse` raises on this), which is also how using the wrong variable after a split
    shows; `mcmc.warmup(key)` then `mcmc.run(key)`, where `run` replays the warmup's key stream.

    Not reported, because the reuse is deliberate: one key given to runs of *different* models to
    compare them (`MCMC`/`SVI`/`Predictive` objects or a helper given another model, a model
    redefined in a later notebook cell, two `Predictive`s of `handlers.do(model, ...)` for a
    contrast under common random numbers); and one callable (a `Predictive`, or a helper that runs
    inference) run with one key on other data, such as train then test.

    ## Why is this bad?
    JAX keys are values, not generators: the same key gives the same random numbers. Reusing one
    makes "independent" draws identical or correlated (posterior predictive draws that repeat the
    MCMC's randomness, noise that is the same in every loop iteration), silently biasing results.
    JAX's own key-reuse checker runs only at run time and only for new-style typed keys.

    ## Example
    ```python
    rng_key = random.PRNGKey(0)
    mcmc.run(rng_key, x, y)
    predictions = Predictive(model, mcmc.get_samples())(rng_key, x)
    ```

    ## Use instead
    ```python
    rng_key, rng_key_predict = random.split(random.PRNGKey(0))
    mcmc.run(rng_key, x, y)
    predictions = Predictive(model, mcmc.get_samples())(rng_key_predict, x)
    ```

    ## Fix safety
    Unsafe: the fix splits the key right before its earlier use (`key, subkey = random.split(key)`)
    and gives that use the subkey, so the later use holds a fresh key; after `mcmc.warmup(key)` it
    gives `mcmc.run` the warmup's key stream instead (`mcmc.run(mcmc.post_warmup_state.rng_key)`).
    The program then draws different random numbers.

    ## Options
    None.
    """

    code = "NPL301"
    summary = "a PRNG key consumed twice on one path"
    fix_safety = "unsafe"
    VALID = [
        """
from jax import random
from numpyro.infer import MCMC, NUTS, Predictive

def run(model, x, flag):
    rng_key, rng_key_noise, rng_key_loop = random.split(random.PRNGKey(0), 3)
    mcmc = MCMC(NUTS(model), num_warmup=100, num_samples=100)
    mcmc.run(rng_key, x)
    if flag:
        noise = random.normal(rng_key_noise)
    else:
        noise = random.uniform(rng_key_noise)
    keys = random.split(rng_key_loop, 10)
    for i in range(10):
        a = random.normal(keys[i])
        b = random.normal(random.fold_in(rng_key_loop, i))
    return noise
""",
        """
from jax import random

def walk(key, steps):
    x = 0.0
    for _ in range(steps):
        key, subkey = random.split(key)
        x = x + random.normal(subkey)
    return x
""",
        """
from jax import random
from numpyro import handlers
from numpyro.infer import MCMC, NUTS, Predictive

def compare(model, reparam_model, samples, x_train, x_test):
    rng_key = random.PRNGKey(0)
    MCMC(NUTS(model), num_warmup=100, num_samples=100).run(rng_key, x_train)
    MCMC(NUTS(reparam_model), num_warmup=100, num_samples=100).run(rng_key, x_train)
    predictive = Predictive(model, samples)
    train = predictive(rng_key, x_train)
    test = predictive(rng_key, x_test)
    treated = Predictive(handlers.do(model, data={"t": 1}), samples)(rng_key, x_test)
    control = Predictive(handlers.do(model, data={"t": 0}), samples)(rng_key, x_test)
""",
    ]
    INVALID = [
        """
from jax import random
from numpyro.infer import MCMC, NUTS, Predictive

def run(model, x):
    rng_key = random.PRNGKey(0)
    mcmc = MCMC(NUTS(model), num_warmup=100, num_samples=100)
    mcmc.run(rng_key, x)
    return Predictive(model, mcmc.get_samples())(rng_key, x)  # expect
""",
        """
from jax import random

def noisy(key, xs):
    out = []
    for x in xs:
        out.append(x + random.normal(key))  # expect
    return out
""",
        """
from jax import random
from numpyro.infer import MCMC, NUTS

def fit(model, x):
    rng_key = random.PRNGKey(0)
    y = random.normal(rng_key, (100,))
    mcmc = MCMC(NUTS(model), num_warmup=100, num_samples=100)
    mcmc.warmup(rng_key, x, y)  # expect
    mcmc.run(rng_key, x, y)  # expect
    key, subkey = random.split(rng_key)  # expect
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for event in reuses(module, after_split=False):
            use, first = event.use, event.first
            assert first is not None
            if event.loop_span is not None:
                message = (
                    f"`{use.key_text}` is consumed by {describe(use)} on every iteration of the "
                    f"{event.loop_kind} loop on {line_reference(event.loop_span.line)}, and the loop never rebinds it: "
                    "every iteration gets the same random numbers. Split inside the loop "
                    f"(`{use.key_text}, subkey = random.split({use.key_text})`) or use "
                    f"`random.fold_in({use.key_text}, i)`."
                )
            elif (receiver := warmup_receiver(event)) is not None:
                message = (
                    f"`{use.key_text}` was already given to `{first.consumer}` on {line_reference(first.span.line)}: "
                    f"`{use.consumer}` replaces the post-warmup state's key with the one it is given, so "
                    "sampling replays the warmup's random numbers. Continue the warmup's key stream: "
                    f"`{receiver}.run({receiver}.post_warmup_state.rng_key, ...)`."
                )
            elif use.consumer_kind == "split" or use.splits:
                message = (
                    f"`{use.key_text}` was already consumed by {describe(first)} on {line_reference(first.span.line)}; "
                    f"splitting it afterwards in {describe(use)} uses it twice: JAX's `jax_debug_key_reuse` "
                    f"raises on this. Split before the first use (`{first.key_text}, subkey = random.split("
                    f"{first.key_text})`) and give that use the subkey."
                )
            else:
                message = (
                    f"`{use.key_text}` was already consumed by {describe(first)} on {line_reference(first.span.line)}; "
                    f"reusing it in {describe(use)} here repeats the same random numbers, so the two are "
                    f"not independent. Split it first (`{first.key_text}, subkey = random.split("
                    f"{first.key_text})`) and give each use its own key."
                )
            yield self.diagnostic(use.span, message, related=related(event))


class KeyUsedAfterSplit(Rule):
    """## What it does
    Flags a PRNG key used again after `jax.random.split` made its children, without being rebound
    (`key, subkey = random.split(key)` rebinds it and is fine). Also when the split happened in a
    function of the same file that the key was passed to.

    ## Why is this bad?
    `split` consumes its key: the children are derived from it, so drawing with the parent as well
    correlates the parent's draws with the children's. The usual slip is splitting into
    `k1, k2 = random.split(key)` and then passing `key` on anyway.

    ## Example
    ```python
    k1, k2 = random.split(key)
    x = random.normal(key)
    ```

    ## Use instead
    ```python
    key, k1, k2 = random.split(key, 3)
    x = random.normal(k1)
    ```

    ## Fix safety
    Unsafe: the parent joins the split it was consumed by (`key, k1, k2 = random.split(key, 3)`),
    or is split again before its first use. The program then draws different random numbers.

    ## Options
    None.
    """

    code = "NPL303"
    summary = "a PRNG key used again after split"
    fix_safety = "unsafe"
    VALID = [
        """
from jax import random

def draw(key):
    key, sub = random.split(key)
    a = random.normal(sub)
    key, sub = random.split(key)
    return a + random.normal(sub)
""",
    ]
    INVALID = [
        """
from jax import random

def draw(key):
    k1, k2 = random.split(key)
    return random.normal(k1) + random.normal(key)  # expect
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        for event in reuses(module, after_split=True):
            use, first = event.use, event.first
            assert first is not None
            if event.loop_span is not None and first.span == use.span:
                yield self.diagnostic(use.span, (
                    f"`{use.key_text}` is split by {describe(use)} on every iteration of the {event.loop_kind} "
                    f"loop on {line_reference(event.loop_span.line)} and never rebound: every iteration makes the same "
                    f"children. Rebind it: `{use.key_text}, subkey = random.split({use.key_text})`."
                ), related=related(event))
                continue
            where = (f"in the previous iteration of the {event.loop_kind} loop on "
                     f"{line_reference(event.loop_span.line)}"
                     if event.loop_span is not None else f"on {line_reference(first.span.line)}")
            message = (
                f"`{use.key_text}` is used by {describe(use)} after {describe(first)} split it {where}: "
                "a split consumes its key, and drawing with the parent too correlates its draws with the "
                f"children's. Use one of the children, or rebind the parent: `{first.key_text}, subkey = "
                f"random.split({first.key_text})`."
            )
            yield self.diagnostic(use.span, message, related=related(event))
