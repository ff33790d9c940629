from __future__ import annotations

from typing import Iterator

from numpyro_lint.diagnostic import Diagnostic, Severity
from numpyro_lint.rules.base import Rule


class SyntaxError_(Rule):
    """## What it does
    Reports a file that Python cannot parse, at the position of the error. A file that parses only on a
    newer Python than the one running numpyro-lint (`def f[T](x: T)` is Python 3.12) is reported as such,
    not as a syntax error: run numpyro-lint with that Python.

    ## Why is this bad?
    Nothing else can be checked in a file that does not parse, and the model will not run.

    ## Example
    ```python
    def model(:
        pass
    ```

    ## Use instead
    ```python
    def model():
        pass
    ```

    ## Fix safety
    No fix.

    ## Options
    None.
    """

    code = "NPL000"
    summary = "the file does not parse"
    VALID = ["x = 1\n", "", "# only a comment\n"]
    INVALID = ["x = 1\ndef model(:  # expect\n    pass\n"]

    def check(self, module, settings) -> Iterator[Diagnostic]:
        if module.syntax_error is not None:
            error = module.syntax_error
            message = error.message if error.requires_python else f"SyntaxError: {error.message}"
            yield self.diagnostic(error.span, message, severity=Severity.ERROR)
