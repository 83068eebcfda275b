"""The ``sklearn-ooc`` command (``python -m sklearn_ooc``)."""

import argparse
import math
import os
import sys


def _positive_number(text):
    """A positive, finite float (``inf``, ``nan``, 0 and below are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive, finite number")
    return value


def _whole_number(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number"
            ) from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text!r} is below {low}")
        return value

    parse.__name__ = "whole number"
    return parse


def _seed(text):
    value = _whole_number(0)(text)
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"{text!r} is not below 2**32")
    return value


def _n_jobs(text):
    value = _whole_number(-(2**31))(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 threads; pass -1 for all cores, or 1")
    return value


def _delimiter(text):
    # A tab is hard to type in a shell: "\t" and "tab" spell it.
    text = {"\\t": "\t", "tab": "\t", "space": " "}.get(text, text)
    if len(text) != 1 or text in '"\r\n':
        raise argparse.ArgumentTypeError(
            f"{text!r} is not one character (other than a quote or a newline); "
            "write a tab as \\t"
        )
    return text


def _column_list(text):
    """Column names (or indices) separated by commas; empty names are refused."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(
            f"{text!r} holds an empty column name; separate names by single commas"
        )
    return names


class _ExtendNames(argparse.Action):
    """Collect the names of a repeated option (``--drop a --drop b,c``)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, (getattr(namespace, self.dest) or []) + values)


def _demo(args):
    from ._demo import run_demo

    run_demo(args.size_mb, n_jobs=args.n_jobs, directory=args.tmpdir, quiet=args.quiet)
    return 0


def _wrote(X_path, y_path):
    """``wrote X.npy (N rows x D columns, float64) and y.npy (N values)``."""
    import numpy as np

    def shape_of(path):
        array = np.load(path, mmap_mode="r")
        if array.ndim == 1:
            return f"{array.shape[0]:,} values, {array.dtype}"
        return f"{array.shape[0]:,} rows x {array.shape[1]:,} columns, {array.dtype}"

    line = f"wrote {X_path} ({shape_of(X_path)})"
    if y_path:
        line += f" and {y_path} ({shape_of(y_path)})"
    print(line)


def _convert(args):
    from .io import convert
    from .io._convert import columns_path, read_columns

    # A bar on a terminal, plain lines in a log or a pipe; --progress forces
    # the bar, --no-progress and --quiet silence it.
    if args.quiet or args.progress is False:
        progress = "off"
    else:
        progress = "bar" if args.progress else "auto"
    X_path, y_path = convert(
        args.input,
        args.output_prefix,
        target=args.target,
        dtype=args.dtype,
        chunk_rows=args.chunk_rows,
        file_format=args.format,
        delimiter=args.delimiter,
        n_features=args.n_features,
        header=args.header,
        columns=args.columns,
        drop=args.drop,
        na=args.na,
        encode=args.encode,
        progress=progress,
        overwrite=args.overwrite,
    )
    _wrote(X_path, y_path)
    if read_columns(X_path) is not None:
        print(f"column names in {columns_path(X_path)}")
    return 0


def _shuffle(args):
    from .io import shuffle_on_disk

    X_path, y_path = shuffle_on_disk(
        args.X,
        args.y,
        out=args.output_prefix,
        buffer_mb=args.buffer_mb,
        random_state=args.seed,
        overwrite=args.overwrite,
        progress="off" if args.quiet else "auto",
    )
    _wrote(X_path, y_path)
    return 0


def _info(args):
    from .io import describe_npy

    # Every file is described, or its error reported, before the status.
    failed = 0
    for path in args.files:
        try:
            print(describe_npy(path), end="")
        except (OSError, ValueError) as exc:
            failed += 1
            print(f"{path}\n  error  {exc}")
            print(f"error: {path}: {exc}", file=sys.stderr)
    if failed and len(args.files) > 1:
        print(f"error: {failed} of {len(args.files)} files unreadable", file=sys.stderr)
    return 1 if failed else 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_ooc",
        description="Exact scikit-learn estimators for data larger than memory.",
    )
    from . import __version__

    parser.add_argument(
        "--version", action="version", version=f"sklearn_ooc {__version__}"
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress output (bars on a terminal, periodic lines "
        "elsewhere); results and errors are still printed",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="fit from synthetic .npy files on disk and compare with scikit-learn",
        description=(
            "Write a Gaussian mixture and a regression problem to temporary .npy "
            "files chunk by chunk, fit OOCGaussianMixture and StreamingRidge from "
            "them as memory maps, and scikit-learn on the same data in memory; "
            "print time, peak extra memory and the largest difference. The ridge "
            "fits run in processes allowed 256 MB beyond their imports (Linux), "
            "where scikit-learn cannot load a larger file. The files are removed."
        ),
    )
    demo.add_argument(
        "--size-mb",
        type=_positive_number,
        default=1000.0,
        help="size of the mixture file in MB (1000); the regression file is half",
    )
    demo.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=-1,
        help="threads over batches (-1: all cores)",
    )
    demo.add_argument(
        "--tmpdir", default=None, help="where to write the files (system temp dir)"
    )
    demo.set_defaults(func=_demo)

    convert = commands.add_parser(
        "convert",
        help="convert Parquet, Arrow, CSV or svmlight/libsvm data to .npy files, "
        "chunk by chunk",
        description=(
            "Convert INPUT (a Parquet, Arrow/Feather or CSV file, a directory or "
            "glob of them, or an svmlight/libsvm file) to OUTPUT_PREFIX_X.npy and "
            "OUTPUT_PREFIX_y.npy without holding the input in memory: the rows "
            "are read and written a chunk at a time. The column names go to "
            "OUTPUT_PREFIX_X.columns.json. Every row is converted or none: a "
            "malformed line, a missing value or a value that is not a number is "
            "reported with its file, line (CSV) or row group (Parquet) and "
            "column, and leaves no output behind. CSV is read as UTF-8 (a byte "
            "order mark is dropped); blank lines are skipped."
        ),
    )
    convert.add_argument(
        "input",
        metavar="INPUT",
        help="the file, or a directory or glob pattern (quoted) of table files",
    )
    convert.add_argument(
        "output_prefix", metavar="OUTPUT_PREFIX", help="prefix of the .npy outputs"
    )
    convert.add_argument(
        "--target",
        metavar="COLUMN",
        help="column holding y: a name or an index (negative from the end); "
        "without it only X is written. svmlight labels are always y",
    )
    convert.add_argument(
        "--columns",
        type=_column_list,
        action=_ExtendNames,
        metavar="A,B,...",
        help="the columns of X, in this order (names or indices; all but the "
        "target by default)",
    )
    convert.add_argument(
        "--drop",
        type=_column_list,
        action=_ExtendNames,
        metavar="A,B,...",
        help="columns left out of X",
    )
    convert.add_argument(
        "--na",
        choices=["error", "nan"],
        default="error",
        help="a missing value in X is an error naming its place (error, the "
        "default) or is written as NaN (nan); a missing target is always an error",
    )
    convert.add_argument(
        "--encode",
        choices=["ordinal", "onehot"],
        help="write text columns of X as category indices (ordinal) or as one "
        "0/1 column per category (onehot), after the numeric columns; without "
        "it a text column is an error",
    )
    convert.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on standard error (by default when it is a terminal)",
    )
    convert.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float64",
        help="element type of X (float64)",
    )
    convert.add_argument(
        "--chunk-rows",
        type=_whole_number(1),
        default=65536,
        metavar="N",
        help="rows parsed and written at a time (65536)",
    )
    convert.add_argument(
        "--format",
        choices=["csv", "parquet", "arrow", "svmlight"],
        help="input format; by default from the names: .parquet/.pq, "
        ".feather/.arrow/.ipc, .svm/.svmlight/.libsvm, CSV otherwise",
    )
    convert.add_argument(
        "--delimiter",
        type=_delimiter,
        help="CSV field separator, \\t for a tab (sniffed from the file by default)",
    )
    convert.add_argument(
        "--header",
        choices=["auto", "yes", "no"],
        default="auto",
        help="CSV: whether the first line names the columns; auto (the default) "
        "takes it for a header only when every field of it is a name, not a "
        "number, empty or NA",
    )
    convert.add_argument(
        "--n-features",
        type=_whole_number(0),
        metavar="D",
        help="svmlight: width of X (the largest feature index by default)",
    )
    convert.add_argument(
        "--overwrite",
        action="store_true",
        help="replace outputs that exist (by default they are an error)",
    )
    convert.set_defaults(func=_convert)

    shuffle = commands.add_parser(
        "shuffle",
        help="shuffle the rows of .npy files on disk under a memory buffer",
        description=(
            "Write a uniformly random permutation of the rows of IN_X.npy (and "
            "IN_y.npy, kept aligned) to OUT_PREFIX_X.npy (and OUT_PREFIX_y.npy), "
            "using at most --buffer-mb megabytes for rows: an external shuffle in "
            "two sequential passes. The inputs are never changed: an output that "
            "is an input is refused, and existing outputs are replaced only with "
            "--overwrite."
        ),
    )
    shuffle.add_argument("X", metavar="IN_X.npy", help="rows to shuffle")
    shuffle.add_argument(
        "y", metavar="IN_y.npy", nargs="?", help="targets kept aligned (optional)"
    )
    shuffle.add_argument(
        "output_prefix", metavar="OUT_PREFIX", help="prefix of the shuffled files"
    )
    shuffle.add_argument(
        "--buffer-mb",
        type=_positive_number,
        default=64.0,
        help="memory for rows in MB (64)",
    )
    shuffle.add_argument(
        "--seed", type=_seed, default=None, help="random seed (0 to 2**32 - 1)"
    )
    shuffle.add_argument(
        "--overwrite",
        action="store_true",
        help="replace outputs that exist (by default they are an error)",
    )
    shuffle.set_defaults(func=_shuffle)

    info = commands.add_parser(
        "info",
        help="describe .npy files from their headers",
        description="Print shape, dtype, order and size of .npy files.",
    )
    info.add_argument("files", metavar="FILE.npy", nargs="+", help="files")
    info.set_defaults(func=_info)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "shuffle" and args.output_prefix is None:
        parser.error("shuffle needs OUT_PREFIX")
    try:
        code = args.func(args)
        # A closed pipe surfaces here rather than at exit, where it is caught.
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader of our output left (``| head``): stop quietly, and keep
        # Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; no output was left half-written", file=sys.stderr)
        return 130
    except MemoryError as exc:
        print(
            f"error: out of memory ({exc}); lower --buffer-mb or --chunk-rows",
            file=sys.stderr,
        )
        return 1
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        for note in getattr(exc, "__notes__", ()):
            print(f"note: {note}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
