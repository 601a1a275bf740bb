"""Run the command line in the test process: ``run(argv, capsys) -> (exit code, stdout, stderr)``."""

from __future__ import annotations

from memtheory.cli import main


def run(argv, capsys):
    """``memtheory ARGV`` through :func:`memtheory.cli.main`, its exit code (also from ``SystemExit``) and output."""
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err
