"""Every rule code and its name: the contract that editors, CI configs and `# noqa` comments use."""

from __future__ import annotations

RULE_NAMES: dict[str, str] = {
    "NPL000": "syntax-error",
    "NPL101": "model-mutates-outer-state",
    "NPL102": "model-io",
    "NPL103": "model-host-randomness",
    "NPL104": "python-branch-on-traced",
    "NPL105": "traced-to-python",
    "NPL106": "inplace-array-update",
    "NPL201": "obs-without-plate",
    "NPL202": "batched-latent-without-plate",
    "NPL203": "sites-in-python-loop",
    "NPL204": "primitive-in-jax-control-flow",
    "NPL205": "duplicate-site-name",
    "NPL206": "unplated-dim-in-plate",
    "NPL301": "key-reuse",
    "NPL302": "constant-seed-in-repeated-scope",
    "NPL303": "key-used-after-split",
    "NPL401": "wide-prior",
    "NPL402": "vague-gamma",
    "NPL403": "improper-prior",
    "NPL404": "support-mismatch",
    "NPL501": "centered-hierarchy",
    "NPL900": "smoke-no-arguments",
    "NPL901": "smoke-divergences",
    "NPL902": "smoke-non-finite",
    "NPL903": "smoke-prior-far-from-data",
    "NPL904": "smoke-poor-convergence",
    "NPL905": "smoke-model-raised",
    "NPL906": "smoke-tree-depth-saturated",
    "NPL907": "prior-not-recovered",
}

#: Codes that were once reported and are never to be given to another rule, with why they were retired.
RETIRED_CODES: dict[str, str] = {
    "NPL502": (
        "learned-centering-outside-plate, retired: it said `LocScaleReparam(centered=None)` on a batched site "
        "outside a plate learns one shared centering where a plate would learn one per element. NumPyro creates "
        "`numpyro.param(f\"{name}_centered\", jnp.full(fn.event_shape, 0.5))` and plates do not expand params, "
        "so the centering has the event shape either way; there was nothing to report."
    ),
}


#: The selector that opts into the pedantic tier: findings that are true but usually harmless.
PEDANTIC = "pedantic"


def is_known_selector(selector: str) -> bool:
    """`ALL`, `pedantic` (any case), a full code, or a prefix of at least one code (`NPL`, `NPL1`, `NPL50`)."""
    return selector == "ALL" or selector.lower() == PEDANTIC or (
        selector.startswith("NPL") and any(code.startswith(selector) for code in RULE_NAMES)
    )


def normalize_selector(selector: str) -> str:
    """`PEDANTIC` (the CLI upper-cases codes) -> `pedantic`; codes as they are."""
    return PEDANTIC if selector.lower() == PEDANTIC else selector
