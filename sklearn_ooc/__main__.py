"""The ``sklearn-ooc`` command (``python -m sklearn_ooc``)."""

import argparse
import sys


def _demo(args):
    from ._demo import run_demo

    run_demo(args.size_mb, n_jobs=args.n_jobs, directory=args.tmpdir)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_ooc",
        description="Exact scikit-learn estimators for data larger than memory.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="fit from synthetic .npy files on disk and compare with scikit-learn",
        description=(
            "Write a Gaussian mixture and a regression problem to temporary .npy "
            "files chunk by chunk, fit OOCGaussianMixture and StreamingRidge from "
            "them as memory maps, print time, peak extra memory and the largest "
            "difference from scikit-learn fitted in memory, then remove the files."
        ),
    )
    demo.add_argument(
        "--size-mb",
        type=float,
        default=1000.0,
        help="size of the mixture file in MB (1000); the regression file is half",
    )
    demo.add_argument(
        "--n-jobs", type=int, default=-1, help="threads over batches (-1: all cores)"
    )
    demo.add_argument(
        "--tmpdir", default=None, help="where to write the file (system temp dir)"
    )
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
