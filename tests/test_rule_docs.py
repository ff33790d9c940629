"""docs/rules is generated from the rule modules and must be regenerated when a rule changes."""

from pathlib import Path

from numpyro_lint.rule_docs import expected_files

DOCS = Path(__file__).resolve().parents[1] / "docs" / "rules"


def test_rule_docs_are_up_to_date():
    stale = [
        name for name, content in expected_files().items()
        if not (DOCS / name).exists() or (DOCS / name).read_text(encoding="utf-8") != content
    ]
    extra = sorted(p.name for p in DOCS.glob("*.md") if p.name not in expected_files())
    assert not stale and not extra, (
        f"docs/rules is out of date ({stale + extra}): run `python scripts/generate_rule_docs.py`"
    )


def test_every_code_has_a_page_linked_from_the_index():
    files = expected_files()
    index = files["README.md"]
    for name in files:
        if name != "README.md":
            assert f"]({name})" in index


def test_a_retired_code_is_never_given_to_a_rule_and_the_index_says_why():
    from numpyro_lint.codes import RETIRED_CODES, RULE_NAMES
    from numpyro_lint.rule_docs import index_markdown

    assert not set(RETIRED_CODES) & set(RULE_NAMES)
    assert "- NPL502: learned-centering-outside-plate, retired" in index_markdown()
