"""NPL301/NPL303 (unsafe): give a reused PRNG key's first consumer a fresh subkey.

Before the statement of the first consumption, `key, subkey = random.split(key)` rebinds the key the
way the file already splits (its callee, its subkey name when generic), and that consumption gets
`subkey`; the later use then holds the rebound key, consumed once. Splitting right before the second
use instead would split a key already consumed, handing out children the first consumer may also
derive. When the first consumption is itself `a, b = split(key)`, the parent joins its targets:
`key, a, b = split(key, 3)`. After `mcmc.warmup(key)`, `mcmc.run(key)` gets the warmup's key stream
instead: `mcmc.run(mcmc.post_warmup_state.rng_key)`. Unsafe: the program draws different random numbers.
"""

from __future__ import annotations

import re

from numpyro_lint.config import Settings
from numpyro_lint.diagnostic import Applicability, Diagnostic, Edit, Fix, Span
from numpyro_lint.fixes.imports import import_name
from numpyro_lint.fixes.region import Region, contains, enclosing_region, insert_line_before
from numpyro_lint.fixes.sites import text_at
from numpyro_lint.ir.keyflow import warmup_receiver
from numpyro_lint.ir.model import FunctionIR, KeyEvent, KeyUse, ModuleIR

#: `key, sub = random.split(key)`: how the file already rebinds a key.
_REBINDING_SPLIT = re.compile(
    r"^[ \t]*(?P<key>\w+)[ \t]*,[ \t]*(?P<sub>\w+)[ \t]*=[ \t]*(?P<callee>[\w.]+)\([ \t]*(?P=key)[ \t]*\)")


def fix(diagnostic: Diagnostic, module: ModuleIR, settings: Settings) -> Fix | None:
    found = _reuse_at(module, diagnostic)
    if found is None:
        return None
    function, event = found
    first = event.first
    assert first is not None
    receiver = warmup_receiver(event)
    if receiver is not None:
        return Fix(f"Continue the warmup's key stream: `{receiver}.post_warmup_state.rng_key`", Applicability.UNSAFE,
                   (Edit(event.use.span, f"{receiver}.post_warmup_state.rng_key"),))
    key = first.key_text
    if not key.isidentifier() or not (function.kind == "module" or key in function.created_names
                                      or any(p.name == key for p in function.params)):
        return None  # a global or closure key: rebinding it here would make it local
    region = enclosing_region(module, first.call_span)
    if region is None:
        return None
    joins = first.splits and (event.loop_span is None or _in_loop_body(
        region, region.statement(first.call_span), event.loop_span))
    edits = _parent_joins_split(region, first) if joins else None
    if edits is None:
        edits = _split_before(module, function, region, first, event.loop_span)
    if edits is None:
        return None
    return Fix(f"Split `{key}` before its first use and give that use its own subkey", Applicability.UNSAFE,
               tuple(edits))


def _reuse_at(module: ModuleIR, diagnostic: Diagnostic) -> tuple[FunctionIR, KeyEvent] | None:
    """The reuse the diagnostic reports: same use, same kind of first use, same loop (or none)."""
    after_split = diagnostic.code == "NPL303"
    related = {location.span for location in diagnostic.related}
    for function in module.functions:
        for event in function.key_events:
            if (event.kind == "reuse" and event.use.span == diagnostic.span and event.first is not None
                    and event.first.splits == after_split and (event.loop_span in related) == (
                        event.loop_span is not None)):
                return function, event
    return None


def _split_before(module: ModuleIR, function: FunctionIR, region: Region, first: KeyUse,
                  loop: Span | None) -> list[Edit] | None:
    import libcst as cst

    statement = region.statement(first.call_span)
    if statement is None or isinstance(statement, cst.While) or _is_elif(region, statement):
        return None  # a `while` test runs again each pass; nothing can go between `if` and `elif`
    if not isinstance(statement, cst.SimpleStatementLine) and _in_body(region, statement, first.call_span):
        return None  # `if c: use(key)` on one line
    if loop is not None and not _in_loop_body(region, statement, loop):
        return None  # the reuse comes from a loop (or comprehension) the new line would stay outside of
    split, import_edits = _split_callee(module)
    subkey = _subkey_name(module, function)
    key = first.key_text
    return [
        insert_line_before(region, statement, f"{key}, {subkey} = {split}({key})"),
        Edit(first.span, subkey),
        *import_edits,
    ]


def _parent_joins_split(region: Region, first: KeyUse) -> list[Edit] | None:
    """`a, b = split(key)` -> `key, a, b = split(key, 3)`, when the targets are plain names."""
    import libcst as cst

    call = region.node_at(first.call_span, cst.Call)
    assign = region.parents.get(call) if call is not None else None
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return None
    target = assign.targets[0].target
    if not isinstance(target, (cst.Tuple, cst.List)) or not all(
            isinstance(element, cst.Element) and isinstance(element.value, cst.Name) for element in target.elements):
        return None
    names = [element.value.value for element in target.elements]
    args = call.args
    if first.key_text in names or any(arg.keyword is not None or arg.star for arg in args):
        return None
    if len(args) == 1 and len(names) == 2:
        count = 2
    elif len(args) == 2 and isinstance(args[1].value, cst.Integer) and args[1].value.evaluated_value == len(names):
        count = len(names)
    else:
        return None
    start = region.span(target.elements[0].value)
    edits = [Edit(Span(start.line, start.col, start.line, start.col), f"{first.key_text}, ")]
    if len(args) == 1:
        end = region.span(args[0].value)
        edits.append(Edit(Span(end.end_line, end.end_col, end.end_line, end.end_col), f", {count + 1}"))
    else:
        edits.append(Edit(region.span(args[1].value), str(count + 1)))
    return edits


def _split_callee(module: ModuleIR) -> tuple[str, tuple[Edit, ...]]:
    """How the file writes `jax.random.split`: as in an existing `key, sub = <split>(key)`, else through
    its imports, else with a new import."""
    for line in module.source.lines:
        match = _REBINDING_SPLIT.match(line)
        if match and _qualify(module, match.group("callee")) == "jax.random.split":
            return match.group("callee"), ()
    return import_name(module, "jax.random.split")


def _qualify(module: ModuleIR, dotted: str) -> str:
    root, _, rest = dotted.partition(".")
    imported = dict(module.imports).get(root, root)
    return f"{imported}.{rest}" if rest else imported


def _subkey_name(module: ModuleIR, function: FunctionIR) -> str:
    """The file's name for subkeys when generic (`sub`, `subkey`, `rng_subkey`), else `subkey`, numbered
    until no word of the function uses it (rebinding a name the function reads elsewhere could change it)."""
    preferred = "subkey"
    for line in module.source.lines:
        match = _REBINDING_SPLIT.match(line)
        if match and "sub" in match.group("sub"):
            preferred = match.group("sub").rstrip("0123456789")
            break
    text = text_at(module, function.span)
    name, number = preferred, 1
    while re.search(rf"\b{re.escape(name)}\b", text):
        name, number = f"{preferred}{number}", number + 1
    return name


def _in_loop_body(region: Region, statement, loop: Span) -> bool:
    """Whether `statement` runs on every pass of the `for`/`while` loop that starts where `loop` does."""
    import libcst as cst

    start = (loop.line, loop.col)
    node = next((n for n in region.nodes((cst.For, cst.While)) if _start(region.span(n)) == start), None)
    return node is not None and statement is not None and contains(region.span(node.body), region.span(statement))


def _start(span: Span) -> tuple[int, int]:
    return span.line, span.col


def _is_elif(region: Region, statement) -> bool:
    import libcst as cst

    return isinstance(statement, cst.If) and isinstance(region.parents.get(statement), cst.If)


def _in_body(region: Region, statement, span: Span) -> bool:
    """Whether `span` is in the body of the compound `statement` (not in its header)."""
    body = getattr(statement, "body", None)
    return body is not None and body in region.positions and contains(region.span(body), span)
