"""``memtheory latex OBJECT``: the LaTeX of every target in :data:`memtheory.cli.registry.LATEX_TARGETS`.

The sub-command is created first (so that it leads ``memtheory --help``) and filled by :func:`finish` once the
other sub-commands are added.
"""

from __future__ import annotations

import argparse

from .. import registry
from ..common import UsageError, dumps, epilog


def register(sub) -> argparse.ArgumentParser:
    """Add the (still empty) ``latex`` sub-command; :func:`finish` adds its targets."""
    p = sub.add_parser("latex", help="print LaTeX of symbolic objects (loss, jackson, reparam, kernel, ...)",
                       description="Print the LaTeX of a symbolic object.")
    p.set_defaults(func=_handler)
    return p


#: The targets shown first by ``memtheory latex --help``, in this order (others follow in registration order).
ORDER = ("loss", "jackson", "reparam", "kernel", "plateau")


def finish(latex: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add one sub-command per registered target; returns the parser of the targets' sub-commands."""
    names = sorted(registry.LATEX_TARGETS, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))
    targets = {n: registry.LATEX_TARGETS[n] for n in names}
    latex.epilog = epilog([t.examples[0] for t in targets.values()])
    objects = latex.add_subparsers(dest="latex_object", metavar="OBJECT", required=True)
    for target in targets.values():
        q = objects.add_parser(target.name, help=target.help, description=f"LaTeX of {target.help}.",
                               epilog=epilog(target.examples))
        target.arguments(q)
        q.add_argument("--json", action="store_true", help="print JSON {object, parts}")
        q.add_argument("--document", action="store_true",
                       help="print a complete LaTeX document (amsmath) instead of the bare formulas")
        q.add_argument("--out", metavar="FILE", help="also write the LaTeX to FILE")
        q.set_defaults(_prog=q.prog)
    return objects


def _handler(args: argparse.Namespace) -> int:
    from ...symbolic.latex import document

    parts = registry.LATEX_TARGETS[args.latex_object].render(args)
    if args.document:
        text = document(parts, title=f"memtheory latex {args.latex_object}").rstrip("\n")
    else:
        text = "\n\n".join(parts.values())
    if args.out:
        try:
            with open(args.out, "w") as fh:
                fh.write(text + "\n")
        except OSError as exc:
            raise UsageError(f"--out: cannot write {args.out!r} ({exc.strerror})") from None
    if args.json:
        extra = {**({"document": text} if args.document else {}), **({"out": args.out} if args.out else {})}
        print(dumps({"object": args.latex_object, "parts": parts, **extra}))
    else:
        print(text)
    return 0
