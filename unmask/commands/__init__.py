"""The ``unmask`` sub-commands, one module per stage; each parses its arguments and calls the stage's module.

Rules declare their command's module as code (``workflow/rules/common.smk``),
so this package imports none of them: ``unmask/cli.py`` does.
"""
