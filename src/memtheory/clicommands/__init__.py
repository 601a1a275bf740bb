"""Sub-commands of the ``memtheory`` CLI contributed by the theory modules.

Each module here defines ``register(subparsers, common)`` which adds one sub-command whose handler returns the
exit code. ``common`` is :class:`memtheory.cli.Common`: helpers shared by all sub-commands (``floats``,
``params``, ``kernel``, ``UsageError``, ``target_args``). Modules are discovered in alphabetical order.
"""
