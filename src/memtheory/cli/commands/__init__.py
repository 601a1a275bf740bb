"""The sub-commands of ``memtheory``, one module each (the order of ``--help`` is :data:`memtheory.cli.COMMANDS`).

Each module defines ``register(subparsers)``: it adds one sub-command whose ``func`` default is the handler
(returning the exit code), with ``epilog=common.epilog(EXAMPLES)`` listing runnable, fast examples (each
``memtheory ...`` line is executed by the tests); at import it registers the ``memtheory latex`` targets of its
objects with :func:`memtheory.cli.registry.register_latex_target`. Bad options raise
:class:`memtheory.cli.common.UsageError` (one line on stderr, exit code 2); ``--json`` prints one JSON document on
stdout and ``--plot FILE`` writes a figure where one makes sense.
"""
