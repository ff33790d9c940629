"""NPL201: wrap an observed site in `numpyro.plate("<site>_data", size)`.

The size must also hold when the observed argument is None (prior predictive), so it comes from the
data itself when that cannot be None (a literal list's length, `x.shape[0]` for `x[:, j]`; safe); for
an observed argument `y`, from a data argument the site's distribution depends on (`x.shape[0]`;
safe), else, when the distribution visibly draws a scalar, from `y` guarded for None (`len(y) if y is
not None else 1`; unsafe: prior predictive draws gain a dimension of size 1). Otherwise no fix.
"""

from __future__ import annotations

import re

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Applicability, Diagnostic, Fix
from numpyro_lint.fixes.imports import import_name
from numpyro_lint.fixes.region import enclosing_region, simple_statement, wrap_in_with
from numpyro_lint.fixes.sites import site_with_obs_at, text_at
from numpyro_lint.ir.model import NO_DEPS, Deps, FunctionIR, ModuleIR, Site
from numpyro_lint.ir.plates import draws_one_value

#: Calls whose argument is a size, not data: `range(n)`, `jnp.zeros(K)`.
SIZE_CALLS = frozenset({
    "range", "jax.numpy.zeros", "jax.numpy.ones", "jax.numpy.arange", "jax.numpy.eye", "jax.numpy.empty",
    "jax.numpy.full", "numpy.zeros", "numpy.ones", "numpy.arange", "numpy.eye",
})
SIZE_KEYWORDS = frozenset({"length", "num_steps", "size", "shape", "sample_shape"})


def fix(diagnostic: Diagnostic, module: ModuleIR, settings: Settings) -> Fix | None:
    found = site_with_obs_at(module, diagnostic.span)
    if found is None:
        return None
    function, site = found
    sized = _size(module, function, site)
    if sized is None or site.name is None or '"' in site.name or "\\" in site.name:
        return None
    size, applicability = sized
    region = enclosing_region(module, site.span)
    statement = region and simple_statement(region, site.span)
    if statement is None:
        return None
    plate, import_edits = import_name(module, "numpyro.plate")
    plate_name = _plate_name(module, site.name)
    trailing = _trailing_dims(function, site)
    dim = f", dim={-1 - trailing}" if trailing else ""
    header = f'{plate}("{plate_name}", {size}{dim})'
    edit = wrap_in_with(region, statement, header)
    return Fix(f"Wrap `{site.name}` in `{header}`", applicability, (edit, *import_edits))


def _size(module: ModuleIR, function: FunctionIR, site: Site) -> tuple[str, Applicability] | None:
    obs = site.obs
    assert obs is not None
    if obs.text.startswith(("[", "(")) and obs.shape == "array":
        items = _literal_length(obs.text)
        return (str(items), Applicability.SAFE) if items is not None else None
    sliced = re.fullmatch(r"(\w+)\[\s*:\s*,.*\]", obs.text, re.S)
    if sliced and _is_parameter(function, sliced.group(1)) and not _defaults_to_none(function, sliced.group(1)):
        return f"{sliced.group(1)}.shape[0]", Applicability.SAFE
    if obs.name is None and not sliced:
        return None  # `y[:n]`, `jnp.asarray(...)`: which size is the author's to say
    argument = _data_argument(module, function, site)
    if argument is not None:
        return f"{argument}.shape[0]", Applicability.SAFE
    observed = obs.name or (sliced.group(1) if sliced else None)
    count = _count_argument(function, site)
    if count is not None and observed is not None and _defaults_to_none(function, observed):
        return count, Applicability.UNSAFE  # `N`: the author's number of observations, never None
    if obs.name is not None and _is_parameter(function, obs.name) and draws_one_value(function, site):
        return f"len({obs.name}) if {obs.name} is not None else 1", Applicability.UNSAFE
    return None


#: Parameter names that say "the number of observations".
COUNT_NAMES = re.compile(r"N|n|n_obs|num_obs|n_data|num_data|n_observations|num_observations|n_points|num_points")


def _count_argument(function: FunctionIR, site: Site) -> str | None:
    """The model's argument that counts the observations (`N`, `num_obs`), when it has exactly one and
    the distribution does not use it (a size it depends on is a batch dimension of its parameters)."""
    used = set()
    assert site.distribution is not None
    for _, expr in site.distribution.params:
        used |= expr.deps.args
    names = [p.name for p in function.params if COUNT_NAMES.fullmatch(p.name) and p.name not in used
             and _is_parameter(function, p.name)]
    return names[0] if len(names) == 1 else None


def _defaults_to_none(function: FunctionIR, name: str) -> bool:
    return any(p.name == name and p.default_text == "None" for p in function.params)


def _trailing_dims(function: FunctionIR, site: Site) -> int:
    """How many dimensions of the data the distribution's parameters already batch on the right: a
    parameter that is the value of a latent site batched by `.expand([K])` or `jnp.zeros(K)` outside
    every plate (`sigma` of shape (2,) for data of shape (N, 2)). The plate over the rows goes left of
    them."""
    assert site.distribution is not None
    trailing = 0
    for _, expr in site.distribution.params:
        if expr.site_value is None or expr.text != expr.name:
            continue
        parent = function.sites[expr.site_value]
        if parent.is_latent and parent.distribution is not None and not parent.context.plates:
            trailing = max(trailing, _batch_ndim(function, parent.distribution))
    return trailing


def _batch_ndim(function: FunctionIR, distribution) -> int:
    if distribution.has_chain("to_event"):
        return 0
    for chain in distribution.chain:
        if chain.method == "expand" and chain.args and chain.args[0].expr.text[:1] in "[(":
            return len([item for item in chain.args[0].expr.text[1:-1].split(",") if item.strip()])
    return 0


def _data_argument(module: ModuleIR, function: FunctionIR, site: Site) -> str | None:
    """A parameter the distribution depends on that holds one value per observation: not the observed
    argument, not a number (`n=10`), not a size (`plate("J", J)`, `range(T)`), rebinding excluded.
    Parameters used as arrays in the function (`x[...]`, `x.shape`, `@ x`) come first."""
    distribution = site.distribution
    assert distribution is not None
    deps: Deps = NO_DEPS
    for _, expr in distribution.params:
        deps = deps | expr.deps
    function_text = text_at(module, function.span)
    candidates = [
        parameter.name for parameter in function.params
        if parameter.name in deps.args and parameter.name != site.obs.name
        and _is_parameter(function, parameter.name) and parameter.default_text in (None, "None")
        and not _is_size(function, parameter.name)
    ]
    candidates.sort(key=lambda name: not _used_as_array(function_text, name))
    return candidates[0] if candidates else None


def _is_parameter(function: FunctionIR, name: str) -> bool:
    return any(p.name == name for p in function.params) and name not in function.created_names


def _is_size(function: FunctionIR, name: str) -> bool:
    if any(plate.size_text == name for plate in function.plates):
        return True
    for call in function.calls:
        for argument in call.args:
            if argument.expr.text == name and (
                argument.keyword in SIZE_KEYWORDS or (argument.keyword is None and call.callee in SIZE_CALLS)
            ):
                return True
    return False


def _used_as_array(function_text: str, name: str) -> bool:
    word = re.escape(name)
    return re.search(rf"\b{word}\s*(\[|\.shape\b|\.T\b|@)|@\s*{word}\b|len\(\s*{word}\s*\)", function_text) is not None


def _literal_length(text: str) -> int | None:
    import ast

    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return len(value) if isinstance(value, (list, tuple)) and value else None


def _plate_name(module: ModuleIR, site_name: str) -> str:
    """`<site>_data`, numbered when a site or plate of the file already has that name."""
    taken = {s.name for f in module.functions for s in f.sites} | {
        p.name for f in module.functions for p in f.plates}
    name = f"{site_name}_data"
    number = 2
    while name in taken:
        name, number = f"{site_name}_data{number}", number + 1
    return name
