"""NPL303 fix (unsafe): the parent key joins its own split, or is split before the first use."""

from __future__ import annotations

from fix_helpers import dedent, fixed


def test_the_parent_joins_the_targets_of_its_split():
    source = """\
        from jax import random

        def draw(key):
            k1, k2 = random.split(key)
            return random.normal(k1) + random.normal(key)
    """
    assert fixed(source, "NPL303") == dedent("""\
        from jax import random

        def draw(key):
            key, k1, k2 = random.split(key, 3)
            return random.normal(k1) + random.normal(key)
    """)


def test_a_split_with_a_count_counts_one_more():
    source = """\
        import jax.random as jr

        def draw(rng_key):
            a, b, c = jr.split(rng_key, 3)
            return jr.normal(rng_key)
    """
    assert "    rng_key, a, b, c = jr.split(rng_key, 4)\n" in fixed(source, "NPL303")


def test_an_array_of_keys_is_split_from_a_subkey():
    source = """\
        from jax import random

        def draw(key):
            keys = random.split(key, 4)
            return random.normal(key) + random.normal(keys[0])
    """
    assert fixed(source, "NPL303") == dedent("""\
        from jax import random

        def draw(key):
            key, subkey = random.split(key)
            keys = random.split(subkey, 4)
            return random.normal(key) + random.normal(keys[0])
    """)
