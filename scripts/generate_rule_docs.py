"""Regenerate docs/rules/*.md from the rule modules: `python scripts/generate_rule_docs.py`."""

from pathlib import Path

from numpyro_lint.rule_docs import write_docs

if __name__ == "__main__":
    changed = write_docs(Path(__file__).resolve().parents[1] / "docs" / "rules")
    print("\n".join(f"wrote docs/rules/{name}" for name in changed) or "docs/rules is up to date")
