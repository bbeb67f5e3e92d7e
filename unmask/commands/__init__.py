"""The ``unmask`` sub-commands, one module per stage; each parses its arguments and calls the stage's module.

A user command (``spectrum``, ``predict``) registers with ``help=``, so ``unmask --help`` lists it;
a workflow stage registers with ``description=`` only: callable, shown by ``unmask <stage> --help``,
and left out of the top-level listing. Every option has help; defaults come from the config schema.
Rules declare their command's module as code (``workflow/rules/common.smk``),
so this package imports none of them: ``unmask/cli.py`` does.
"""

# Every stage that draws repeats takes the dataset's protocol as one JSON argument, read by ``Protocol.from_json``.
PROTOCOL_HELP = 'the protocol as JSON: {"name": P, "repeats": R, "test_fraction": F, "seed": S} (Protocol.to_json)'
