"""`check` and `fix` read the user's code; they never import or run it."""

from __future__ import annotations

import textwrap

from conftest import run_cli


def test_check_and_fix_never_import_the_users_modules(tmp_path):
    marker = tmp_path / "IMPORTED"
    (tmp_path / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (tmp_path / "model.py").write_text(textwrap.dedent("""\
        import evil
        import numpyro
        import numpyro.distributions as dist
        import jax.numpy as jnp

        def model(n):
            x = jnp.zeros(n)
            x[0] = numpyro.sample("a", dist.Normal(0, 1))
            print(x)

        if __name__ == "__main__":
            import evil
    """))
    (tmp_path / "conftest.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (tmp_path / "pyproject.toml").write_text("[tool.numpyro-lint]\nselect = ['NPL']\n")
    for args in (("check", "."), ("check", "--fix", "--unsafe-fixes", "."), ("fix", "--diff", ".")):
        run_cli(*args, cwd=tmp_path)
        assert not marker.exists(), f"`numpyro-lint {' '.join(args)}` executed user code"
