"""Executing the user's file in the child and finding each model's arguments.

Three ways, in order, per model: (a) a `# numpyro-lint: smoke(...)` directive above the `def`,
evaluated in the module's namespace; (b) the file's own inference calls, recorded by intercepting
`MCMC.run`, `MCMC.warmup`, `SVI.run` and `Predictive.__call__` while the module is imported (under a
name other than `__main__`) and, when that records nothing, while its `if __name__ == "__main__":`
block runs; the first intercepted call stops the script; (c) a model whose parameters all have
defaults is called with them.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import os
import sys
import types
from dataclasses import dataclass
from typing import Any, Callable, Iterator

MODULE_NAME = "__numpyro_lint_smoke__"


class ScriptStopped(BaseException):
    """Raised by an intercepted inference call: the arguments are recorded, the script goes no further.

    A BaseException so that the user's `except Exception:` does not swallow it.
    """


@dataclass
class RecordedCall:
    model: Callable
    args: tuple
    kwargs: dict
    entry: str  # "MCMC.run", ...


@dataclass
class ModelCall:
    """A model and the arguments to call it with."""

    model: Callable
    args: tuple
    kwargs: dict
    how: str  # "directive" | "MCMC.run" | ... | "defaults"


class UserCodeError(Exception):
    """The user's code raised while the file was executed; `error` is the original exception."""

    def __init__(self, error: BaseException, during: str) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error
        self.during = during


@dataclass
class LoadedModule:
    path: str
    namespace: dict[str, Any]
    recorded: list[RecordedCall]


def load_module(path: str, text: str, run_main: bool = True) -> LoadedModule:
    """Execute the file as a module (not as `__main__`); if it made no inference call and `run_main`,
    its main block.

    Raises UserCodeError when the user's code raises.
    """
    code = compile(text, path, "exec", dont_inherit=True)
    module = types.ModuleType(MODULE_NAME)
    module.__file__ = path
    namespace = module.__dict__
    recorded: list[RecordedCall] = []
    directory = os.path.dirname(os.path.abspath(path))
    with _user_environment(directory, path, module), _intercepting(recorded):
        _execute(code, namespace, "importing the file")
        if not recorded and run_main:
            for block in _main_blocks(text, path):
                _execute(block, namespace, "running its `if __name__ == \"__main__\":` block")
                if recorded:
                    break
    return LoadedModule(path, namespace, recorded)


def _execute(code: types.CodeType, namespace: dict, during: str) -> None:
    try:
        exec(code, namespace)
    except ScriptStopped:
        pass
    except SystemExit as error:
        if error.code not in (None, 0):
            raise UserCodeError(error, during) from None
    except Exception as error:  # the user's code: anything can happen
        raise UserCodeError(error, during) from None


def _main_blocks(text: str, path: str) -> Iterator[types.CodeType]:
    tree = ast.parse(text, path)
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_test(node.test):
            yield compile(ast.Module(body=node.body, type_ignores=[]), path, "exec", dont_inherit=True)


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    return (
        any(isinstance(side, ast.Name) and side.id == "__name__" for side in sides)
        and any(isinstance(side, ast.Constant) and side.value == "__main__" for side in sides)
    )


@contextlib.contextmanager
def _user_environment(directory: str, path: str, module: types.ModuleType):
    """The file's folder first on sys.path and as the working directory; argv as if run as a script."""
    saved = (list(sys.path), list(sys.argv), os.getcwd())
    sys.path.insert(0, directory)
    sys.argv = [path]
    sys.modules[MODULE_NAME] = module
    try:
        os.chdir(directory)
    except OSError:
        pass
    try:
        yield
    finally:
        sys.path[:], sys.argv[:] = saved[0], saved[1]
        with contextlib.suppress(OSError):
            os.chdir(saved[2])


@contextlib.contextmanager
def _intercepting(recorded: list[RecordedCall]):
    from numpyro.infer import MCMC, SVI, Predictive

    def record(entry: str, model: Any, args: tuple, kwargs: dict) -> None:
        if model is not None:
            recorded.append(RecordedCall(model, args, kwargs, entry))
        raise ScriptStopped(entry)

    def mcmc_run(self, rng_key, *args, extra_fields=(), init_params=None, **kwargs):
        record("MCMC.run", _kernel_model(self.sampler), args, kwargs)

    def mcmc_warmup(self, rng_key, *args, extra_fields=(), collect_warmup=False, init_params=None, **kwargs):
        record("MCMC.warmup", _kernel_model(self.sampler), args, kwargs)

    def svi_run(self, rng_key, num_steps, *args, **kwargs):
        for option in ("progress_bar", "stable_update", "forward_mode_differentiation", "init_state", "init_params"):
            kwargs.pop(option, None)
        record("SVI.run", self.model, args, kwargs)

    def predictive_call(self, rng_key, *args, **kwargs):
        record("Predictive", self.model, args, kwargs)

    patches = [(MCMC, "run", mcmc_run), (MCMC, "warmup", mcmc_warmup), (SVI, "run", svi_run),
               (Predictive, "__call__", predictive_call)]
    originals = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def _kernel_model(kernel: Any) -> Any:
    while kernel is not None:
        model = getattr(kernel, "model", None)
        if model is not None:
            return model
        kernel = getattr(kernel, "inner_kernel", None)
    return None


def underlying_function(model: Any) -> Any:
    """The plain function inside partials, NumPyro handlers, bound methods and decorators."""
    seen = set()
    while id(model) not in seen:
        seen.add(id(model))
        if isinstance(model, functools.partial):
            model = model.func
        elif inspect.ismethod(model):
            model = model.__func__
        elif hasattr(model, "__wrapped__"):
            model = model.__wrapped__
        elif not inspect.isfunction(model) and callable(getattr(model, "fn", None)):
            model = model.fn  # numpyro.handlers.* around the model
        else:
            break
    return model


def is_function_of(model: Any, qualname: str, path: str) -> bool:
    function = underlying_function(model)
    code = getattr(function, "__code__", None)
    return (
        code is not None and code.co_filename == path
        and getattr(function, "__qualname__", None) == qualname
    )


def find_call(loaded: LoadedModule, qualname: str, directive: str | None, all_defaults: bool) -> ModelCall | None:
    """The arguments for one model by the three ways in order, or None when none works.

    Raises UserCodeError when the directive raises.
    """
    model = _resolve(loaded.namespace, qualname)
    if directive is not None and model is not None:
        try:
            args, kwargs = eval(f"__smoke_args__({directive})",
                                {**loaded.namespace, "__smoke_args__": lambda *a, **k: (a, k)})
        except Exception as error:
            raise UserCodeError(error, "evaluating the smoke directive") from None
        return ModelCall(model, args, kwargs, "directive")
    for call in loaded.recorded:
        if is_function_of(call.model, qualname, loaded.path):
            return ModelCall(call.model, call.args, dict(call.kwargs), call.entry)
    if model is not None and all_defaults:
        return ModelCall(model, (), {}, "defaults")
    return None


def _resolve(namespace: dict, qualname: str) -> Callable | None:
    if "<" in qualname:
        return None
    value: Any = namespace.get(qualname.split(".")[0])
    for part in qualname.split(".")[1:]:
        value = getattr(value, part, None)
    return value if callable(value) else None
