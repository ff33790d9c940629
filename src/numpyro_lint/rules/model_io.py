from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic
from numpyro_lint.rules.base import Rule, models

IO_CALLS = frozenset({
    "print", "input", "open", "io.open", "builtins.print", "builtins.open",
    "numpy.save", "numpy.savez", "numpy.savez_compressed", "numpy.savetxt", "numpy.load",
    "numpy.loadtxt", "numpy.genfromtxt", "pickle.dump", "pickle.load", "json.dump", "json.load",
    "sys.stdout.write", "sys.stderr.write", "pprint.pprint",
})
LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log"})
PATH_IO_METHODS = frozenset({"write_text", "read_text", "write_bytes", "read_bytes"})


class ModelIO(Rule):
    """## What it does
    Flags `print`, `logging` calls and file I/O inside a model.

    ## Why is this bad?
    The model body runs at trace time: under NUTS or SVI a `print` runs a few times while JAX traces
    the model and shows tracers, not values; it never runs per sample or per step. File reads and
    writes happen at trace time too, and are invisible to `jit`.

    ## Example
    ```python
    def model():
        tau = numpyro.sample("tau", dist.HalfNormal(1))
        print("tau =", tau)
    ```

    ## Use instead
    ```python
    def model():
        tau = numpyro.sample("tau", dist.HalfNormal(1))
        jax.debug.print("tau = {}", tau)
    ```

    ## Fix safety
    Unsafe: `print(...)` becomes `jax.debug.print(...)` with a format string. That prints at run
    time, once per evaluation, which changes what the program outputs.

    ## Options
    None.
    """

    code = "NPL102"
    summary = "print, logging or file I/O inside a model"
    fix_safety = "unsafe"
    VALID = [
        """
import jax
import numpyro
import numpyro.distributions as dist

def model():
    tau = numpyro.sample("tau", dist.HalfNormal(1))
    jax.debug.print("tau = {}", tau)
    jax.debug.callback(lambda t: None, tau)

def report(samples):
    print(samples["tau"].mean())
""",
    ]
    INVALID = [
        """
import logging
import numpyro
from numpyro.distributions import HalfNormal

logger = logging.getLogger(__name__)

def model():
    tau = numpyro.sample("tau", HalfNormal(1))
    print("tau", tau)  # expect
    logger.info("sampled %s", tau)  # expect
    logging.warning("sampled")  # expect
    with open("log.txt", "a") as f:  # expect
        f.write("x")
""",
    ]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        loggers = {
            call.bound_to
            for function in module.functions
            for call in function.calls
            if call.callee == "logging.getLogger" and call.bound_to
        }
        for function in models(module):
            for call in function.calls:
                kind = self._io_kind(call, loggers)
                if kind:
                    yield self.diagnostic(call.span, (
                        f"{kind} in model `{function.name}` runs once, at trace time, not per sample: "
                        "it shows tracers, not values. Use `jax.debug.print` (or `jax.debug.callback`) "
                        "to see values at run time."
                    ))

    @staticmethod
    def _io_kind(call, loggers: set) -> str | None:
        if call.callee in IO_CALLS:
            name = call.callee.rsplit(".", 1)[-1]
            return f"`{name}()`" if name in ("print", "input", "pprint") else f"File I/O (`{call.callee}`)"
        if call.method in LOG_METHODS and (call.callee.startswith("logging.") or call.receiver in loggers):
            return f"Logging (`{call.callee}`)"
        if call.method in PATH_IO_METHODS:
            return f"File I/O (`.{call.method}()`)"
        return None
