"""Sub-commands of the ``memtheory`` CLI contributed by the theory modules.

Each module here defines ``register(subparsers, common)`` which adds one sub-command whose handler returns the
exit code. ``common`` is :class:`memtheory.cli.Common`: helpers shared by all sub-commands (``floats``,
``params``, ``kernel``, ``UsageError``, ``target_args``, ``epilog``, ``latex_target``). Modules are discovered in
alphabetical order.

Conventions (checked by ``tests/test_cli_help.py`` for every sub-command): pass ``epilog=common.epilog(EXAMPLES)``
to ``add_parser`` with runnable, fast examples (each ``memtheory ...`` line is executed by the tests); offer
``--json`` (one JSON document on stdout) and ``--plot FILE`` where a figure makes sense; raise
``common.UsageError`` for bad options (one line on stderr, exit code 2). A module can add a ``memtheory latex``
target with ``common.latex_target(name, help, examples, arguments, render)`` (see
:func:`memtheory.cli.register_latex_target`), e.g. ``memtheory latex plateau``.
"""
