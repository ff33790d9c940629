"""The command-line commands, above the libraries: each module turns parsed arguments into calls on
`linter`, `fixes`, `runner` and `report`, and returns the exit status. `cli.py` only parses arguments.

    common.py  exit codes, settings from arguments, the files named, printing reports
    check.py   `check` (report; never writes)
    fix.py     `fix`, `check --fix`, `--diff` (write atomically)
    smoke.py   `smoke` (run the model in the runner's child process)
"""
