"""The smoke runner: runs the user's models in a child process and reports what went wrong.

The only package that imports JAX and NumPyro, and only in the child (`child`, `pipeline`, `loading`,
`sampling`, `checks`). The server/CLI side (`client`, `process`, `targets`, `placement`, `cache`,
`cli`, `protocol`, `docs`) never does: it talks to the child in JSON lines.
"""
