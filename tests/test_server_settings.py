"""Settings for a document in the editor: defaults < nearest pyproject.toml < editor settings; bad
input is a warning (once), never an error."""

from __future__ import annotations

import os
from pathlib import Path

from numpyro_lint.server.settings import SettingsResolver, editor_table


def resolver(root: Path) -> tuple[SettingsResolver, list[str]]:
    warnings: list[str] = []
    return SettingsResolver(root, warnings.append), warnings


def test_editor_settings_override_the_pyproject(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.numpyro-lint]\nignore = ["NPL102"]\nwide-prior-scale = 50\n')
    settings, warnings = resolver(tmp_path)
    assert settings.for_path(str(tmp_path / "m.py")).ignore == ("NPL102",)
    assert settings.set_editor_settings({"ignore": ["NPL106"], "smoke": {"enabled": True, "chains": None}})
    resolved = settings.for_path(str(tmp_path / "m.py"))
    assert (resolved.ignore, resolved.wide_prior_scale, resolved.smoke.enabled) == (("NPL106",), 50.0, True)
    assert not settings.set_editor_settings({"ignore": ["NPL106"], "smoke": {"enabled": True}})  # unchanged
    assert warnings == []


def test_a_bad_editor_setting_is_left_out_with_one_warning(tmp_path: Path):
    settings, warnings = resolver(tmp_path)
    settings.set_editor_settings({"ignore": ["NPL999"], "select": ["NPL1"], "colour": "red"})
    settings.set_editor_settings({"ignore": ["NPL999"], "select": ["NPL1"], "colour": "red"})
    assert settings.for_path(None).select == ("NPL1",)
    assert len(warnings) == 2 and "NPL999" in warnings[0] and "colour" in warnings[1]


def test_a_broken_pyproject_warns_once_and_defaults_apply(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.numpyro-lint]\nselect = ["NPL1"]\nwat = 1\n')
    settings, warnings = resolver(tmp_path)
    assert settings.for_path(str(tmp_path / "a.py")).select == ("NPL",)
    assert settings.for_path(str(tmp_path / "b.py")).select == ("NPL",)
    assert len(warnings) == 1 and "wat" in warnings[0]


def test_a_changed_pyproject_is_noticed_by_its_modification_time(tmp_path: Path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.numpyro-lint]\nignore = ["NPL102"]\n')
    settings, _ = resolver(tmp_path)
    assert settings.for_path(str(tmp_path / "m.py")).ignore == ("NPL102",)
    generation = settings.generation
    assert not settings.check_for_changes()
    pyproject.write_text('[tool.numpyro-lint]\nignore = ["NPL106"]\n')
    os.utime(pyproject, ns=(pyproject.stat().st_atime_ns, pyproject.stat().st_mtime_ns + 1_000_000))
    assert settings.check_for_changes()
    assert settings.generation > generation
    assert settings.for_path(str(tmp_path / "m.py")).ignore == ("NPL106",)


def test_documents_without_a_path_use_the_workspace_root(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.numpyro-lint]\nselect = ["NPL2"]\n')
    settings, _ = resolver(tmp_path)
    assert settings.for_path(None).select == ("NPL2",)
    assert SettingsResolver(None, print).for_path(None).select == ("NPL",)


def test_editor_table_drops_unset_values():
    assert editor_table({"select": None, "ignore": ["NPL1"], "smoke": {"enabled": None}}) == {
        "ignore": ["NPL1"], "smoke": {}}
    assert editor_table(None) == {} and editor_table(["x"]) == {}
