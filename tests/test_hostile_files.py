"""Garbage in never means a traceback: each file gets a clear message or NPL000, others still checked."""

from __future__ import annotations

import textwrap

from conftest import run_cli
from numpyro_lint.linter import lint_text

MODEL = textwrap.dedent("""\
    import numpyro
    import numpyro.distributions as dist

    def model():
        x = numpyro.sample("x", dist.Normal(0, 1))
        print(x)
""")


def check_folder(tmp_path, files: dict[str, bytes]):
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "good.py").write_text(MODEL)
    return run_cli("check", ".", cwd=tmp_path)


def assert_no_traceback(result):
    assert b"Traceback" not in result.stderr + result.stdout


def test_binary_file(tmp_path):
    result = check_folder(tmp_path, {"blob.py": bytes(range(256)) * 4})
    assert_no_traceback(result)
    out = result.stdout.decode()
    assert "error: blob.py:" in out and "good.py:6:5: NPL102" in out


def test_non_utf8_bytes(tmp_path):
    result = check_folder(tmp_path, {"latin.py": "x = 'caf\u00e9'\n".encode("latin-1")})
    assert_no_traceback(result)
    assert "error: latin.py: not valid utf-8" in result.stdout.decode()
    assert "good.py:6:5: NPL102" in result.stdout.decode()


def test_coding_cookie_is_honoured(tmp_path):
    result = check_folder(tmp_path, {"latin.py": "# -*- coding: latin-1 -*-\nx = 'caf\u00e9'\n".encode("latin-1")})
    assert "latin.py" not in result.stdout.decode()


def test_empty_and_comment_only_files(tmp_path):
    result = check_folder(tmp_path, {"empty.py": b"", "comments.py": b"# just a comment\n# another\n"})
    assert_no_traceback(result)
    assert result.stdout.decode().splitlines()[0].startswith("good.py")


def test_crlf_line_endings_give_the_same_positions():
    crlf = MODEL.replace("\n", "\r\n")
    assert [(d.code, d.span) for d in lint_text(crlf).diagnostics] == [
        (d.code, d.span) for d in lint_text(MODEL).diagnostics
    ]


def test_syntax_error_mid_file_is_reported_at_its_line_and_other_files_still_checked(tmp_path):
    broken = MODEL + "\n\ndef other(:\n    pass\n" + MODEL
    result = check_folder(tmp_path, {"broken.py": broken.encode()})
    out = result.stdout.decode()
    assert "broken.py:9:11: NPL000 SyntaxError" in out
    assert "good.py:6:5: NPL102" in out


def test_a_20000_line_file(tmp_path):
    body = "\n".join(f"y{i} = {i} * 2" for i in range(20000)) + "\n" + MODEL
    result = check_folder(tmp_path, {"huge.py": body.encode()})
    assert_no_traceback(result)
    assert "huge.py:20006:5: NPL102" in result.stdout.decode()


def test_deeply_nested_expression_gets_a_clear_message():
    deep = "x = " + "(" * 300 + "1" + ")" * 300 + "\n"
    [diagnostic] = lint_text(deep).diagnostics
    assert diagnostic.code == "NPL000"
    long_chain = "x = " + " + ".join(["1"] * 50000) + "\n"
    assert all(d.code == "NPL000" for d in lint_text(long_chain).diagnostics)


def test_unreadable_and_missing_paths(tmp_path):
    result = run_cli("check", "missing.py", cwd=tmp_path)
    assert result.returncode == 1 and "missing.py: no such file" in result.stdout.decode()


def test_symlink_loop_in_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "loop").symlink_to(tmp_path)
    (tmp_path / "sub" / "m.py").write_text(MODEL)
    result = run_cli("check", ".", cwd=tmp_path, timeout=60)
    assert_no_traceback(result)
    assert result.stdout.decode().count("NPL102") == 1


def test_a_50000_line_file_and_10000_character_lines(tmp_path):
    long_line = "x = [" + ", ".join(["1.0"] * 2500) + "]\n"
    assert len(long_line) > 10_000
    body = long_line * 20 + "\n".join(f"v{i} = {i}" for i in range(50_000)) + "\n" + MODEL
    result = check_folder(tmp_path, {"big.py": body.encode()})
    assert_no_traceback(result)
    assert f"big.py:{20 + 50_000 + 6}:5: NPL102" in result.stdout.decode()


def test_files_that_are_not_python(tmp_path):
    result = check_folder(tmp_path, {
        "readme.py": b"This is not Python, it is prose: the model (see below) isn't here.\n",
        "data.py": b'{"a": [1, 2, {"b": null}]}\n<xml attr="1"/>\n',
        "notebook.ipynb": b"not json at all",
    })
    assert_no_traceback(result)
    out = result.stdout.decode()
    assert "readme.py:1:" in out and "NPL000" in out
    assert "error: notebook.ipynb: not a valid Jupyter notebook" in out
    assert "good.py:6:5: NPL102" in out


def test_dangling_symlink_is_reported_not_fatal(tmp_path):
    (tmp_path / "gone.py").symlink_to(tmp_path / "does-not-exist.py")
    result = check_folder(tmp_path, {})
    assert_no_traceback(result)
    assert "good.py:6:5: NPL102" in result.stdout.decode()
    assert "gone.py" in result.stdout.decode()


def test_thousands_of_fixable_findings_get_fixes_for_the_first_200_and_fix_applies_them_all(tmp_path):
    updates = "\n".join(f"    x[{i}] = numpyro.sample('a{i}', dist.Normal(0, 1))" for i in range(300))
    text = ("import jax.numpy as jnp\nimport numpyro\nimport numpyro.distributions as dist\n\n"
            f"def model():\n    x = jnp.zeros(300)\n{updates}\n    return x\n")
    diagnostics = [d for d in lint_text(text).diagnostics if d.code == "NPL106"]
    assert len(diagnostics) == 300
    assert sum(d.fix is not None for d in diagnostics) == 200
    assert all(d.alternatives for d in diagnostics)  # "disable for this line" for every one

    (tmp_path / "many.py").write_text(text)
    result = run_cli("fix", "--isolated", "many.py", cwd=tmp_path)
    assert_no_traceback(result)
    assert "x[" not in (tmp_path / "many.py").read_text().replace("x = x.at[", "")
