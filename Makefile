# Set-up contract: `make demo` and `make test` work on a fresh machine with Python 3.11, pip and Node.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test e2e-vscode venv venv-test docs bench soak clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

# The wheelhouse lets the pre-commit test install this repository into a hook environment offline.
$(VENV)/.test: pyproject.toml $(VENV)/.base
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip wheel --quiet -w $(VENV)/wheelhouse 'setuptools>=77' wheel libcst 'pygls>=2.0,<3' 'lsprotocol>=2025.0.0' 'pathspec>=0.11'
	touch $@

venv: $(VENV)/.base
venv-test: $(VENV)/.test

# Lint the bundled examples; exit status 1 (findings) is the expected outcome of a demo.
demo: $(VENV)/.base
	@echo "\$$ numpyro-lint check examples/"
	@$(VENV)/bin/numpyro-lint check examples/ || [ $$? -eq 1 ]
	@echo
	@echo "\$$ numpyro-lint check --statistics examples/"
	@$(VENV)/bin/numpyro-lint check --statistics examples/ || [ $$? -eq 1 ]

test: $(VENV)/.test
	$(PY) -m pytest

# The .vsix, rebuilt when the extension's sources change (`make test` builds it with the same script).
VSIX := vscode-extension/numpyro-lint.vsix
$(VSIX): $(wildcard vscode-extension/src/*.ts) vscode-extension/package.json vscode-extension/package-lock.json vscode-extension/tsconfig.json
	bash vscode-extension/scripts/build-and-test.sh

# The extension in a real VS Code: code-server in headless Chromium (vscode-extension/e2e/). setup.sh
# installs what is missing (Debian packages as root; code-server, cached in build/e2e); screenshots and the
# editor's logs land in build/e2e/screenshots and build/e2e/logs. `.ci/run` runs it after `make test`.
E2E := build/e2e
e2e-vscode: $(VENV)/.base $(VSIX)
	bash vscode-extension/e2e/setup.sh $(E2E)
	node vscode-extension/e2e/run.js --code-server $(E2E)/code-server --vsix $(VSIX) --python $(PY) --out $(E2E)

docs: $(VENV)/.base
	$(PY) scripts/generate_rule_docs.py

# Speed is measured here, never asserted in tests. `make soak` runs the 10-minute server soak.
bench: $(VENV)/.test
	$(PY) bench/bench_check.py
	$(PY) bench/bench_server.py
	$(PY) bench/bench_smoke.py

soak: $(VENV)/.test
	$(PY) bench/soak_server.py --minutes 10 --files 20

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
