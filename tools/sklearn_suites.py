"""Run scikit-learn's own tests against our estimators.

For each suite below, copy scikit-learn's test module for a class we replace
(from the installed scikit-learn) and scikit-learn's root ``conftest.py`` into
a temporary directory, make every scikit-learn class of the suite resolve to
ours inside the copied module, run pytest on it in a subprocess and count the
outcomes, per module and per class::

    python tools/sklearn_suites.py [--only NAME ...] [--json out.json]
                                   [--timeout S] [--test-timeout S] [-k EXPR]

``NAME`` is a suite (``ridge``, ``test_ridge.py``) or a class in it, ours or
scikit-learn's (``Ridge``, ``StreamingRidge``). The exit code is 0 when every
test that ran passed or was skipped, 1 otherwise.

How the classes become ours: after every top-level import statement of the
copied module, one added line, ``_sklearn_suites_rebind(globals())``, replaces
each module global that *is* a scikit-learn class of the suite by our class
(whatever name or alias it was imported under), and each scikit-learn module
through which such a class is reached (``linear_model`` in
``linear_model.SGDClassifier``, ``sklearn`` in ``sklearn.mixture.X``) by a
view of that module whose attributes are ours where they are the classes of
the suite. scikit-learn itself is not patched: its other classes and
functions keep using its own estimators, as they must to be the reference.

Tests that cannot apply to an out-of-core estimator are listed, each with its
reason, in ``tools/sklearn_suites_skips.toml``; they are deselected and
counted apart. Which class a test touches is worked out from the source: the
names its body (and the module-level helpers, fixtures and classes it uses)
mentions, and, for a parametrized test, the parameter its id names.

The same file is the pytest plugin of the child process (``-p
sklearn_suites``) and provides ``rebind`` to the copied module; the child
finds its settings through the ``SKLEARN_SUITES_CONFIG`` environment variable.
"""

from __future__ import annotations

import argparse
import ast
import collections
import dataclasses
import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import pytest

TOOLS_DIR = Path(__file__).resolve().parent
SKIPS_FILE = TOOLS_DIR / "sklearn_suites_skips.toml"
CONFIG_ENV = "SKLEARN_SUITES_CONFIG"
REBIND_NAME = "_sklearn_suites_rebind"
CONSTRUCT_NAME = "_sklearn_suites_construct"


@dataclasses.dataclass(frozen=True)
class Suite:
    """A scikit-learn test module and the scikit-learn classes it tests that
    we replace; our class for each is the one ``sklearn_ooc.out_of_core``
    registers, so that this tool keeps no list of our estimators."""

    module: str  # path inside the scikit-learn package
    classes: tuple  # "sklearn.subpackage.ClassName"

    @property
    def name(self):
        return Path(self.module).stem.removeprefix("test_")

    @property
    def file_name(self):
        return Path(self.module).name


SUITES = (
    Suite(
        "mixture/tests/test_gaussian_mixture.py",
        ("sklearn.mixture.GaussianMixture",),
    ),
    Suite(
        "mixture/tests/test_bayesian_mixture.py",
        ("sklearn.mixture.BayesianGaussianMixture",),
    ),
    Suite("cluster/tests/test_k_means.py", ("sklearn.cluster.KMeans",)),
    Suite("decomposition/tests/test_pca.py", ("sklearn.decomposition.PCA",)),
    Suite(
        "tests/test_naive_bayes.py",
        (
            "sklearn.naive_bayes.GaussianNB",
            "sklearn.naive_bayes.MultinomialNB",
            "sklearn.naive_bayes.ComplementNB",
            "sklearn.naive_bayes.BernoulliNB",
            "sklearn.naive_bayes.CategoricalNB",
        ),
    ),
    Suite(
        "feature_selection/tests/test_feature_select.py",
        (
            "sklearn.feature_selection.SelectKBest",
            "sklearn.feature_selection.SelectPercentile",
            "sklearn.feature_selection.SelectFpr",
            "sklearn.feature_selection.SelectFdr",
            "sklearn.feature_selection.SelectFwe",
            "sklearn.feature_selection.GenericUnivariateSelect",
        ),
    ),
    Suite(
        "feature_selection/tests/test_variance_threshold.py",
        ("sklearn.feature_selection.VarianceThreshold",),
    ),
    Suite(
        "decomposition/tests/test_truncated_svd.py",
        ("sklearn.decomposition.TruncatedSVD",),
    ),
    Suite(
        "cross_decomposition/tests/test_pls.py",
        (
            "sklearn.cross_decomposition.PLSRegression",
            "sklearn.cross_decomposition.PLSCanonical",
            "sklearn.cross_decomposition.CCA",
        ),
    ),
    Suite(
        "decomposition/tests/test_factor_analysis.py",
        ("sklearn.decomposition.FactorAnalysis",),
    ),
    Suite(
        "covariance/tests/test_covariance.py",
        (
            "sklearn.covariance.EmpiricalCovariance",
            "sklearn.covariance.ShrunkCovariance",
            "sklearn.covariance.OAS",
            "sklearn.covariance.LedoitWolf",
        ),
    ),
    Suite(
        "covariance/tests/test_graphical_lasso.py",
        ("sklearn.covariance.GraphicalLasso",),
    ),
    Suite(
        "linear_model/tests/test_ridge.py",
        ("sklearn.linear_model.Ridge", "sklearn.linear_model.RidgeCV"),
    ),
    Suite(
        "linear_model/tests/test_coordinate_descent.py",
        (
            "sklearn.linear_model.Lasso",
            "sklearn.linear_model.ElasticNet",
            "sklearn.linear_model.LassoCV",
            "sklearn.linear_model.ElasticNetCV",
            "sklearn.linear_model.MultiTaskLasso",
            "sklearn.linear_model.MultiTaskElasticNet",
            "sklearn.linear_model.MultiTaskLassoCV",
            "sklearn.linear_model.MultiTaskElasticNetCV",
        ),
    ),
    Suite(
        "linear_model/tests/test_least_angle.py",
        (
            "sklearn.linear_model.Lars",
            "sklearn.linear_model.LassoLars",
            "sklearn.linear_model.LassoLarsIC",
            "sklearn.linear_model.LarsCV",
            "sklearn.linear_model.LassoLarsCV",
        ),
    ),
    Suite(
        "linear_model/tests/test_bayes.py",
        ("sklearn.linear_model.BayesianRidge", "sklearn.linear_model.ARDRegression"),
    ),
    Suite(
        "linear_model/tests/test_base.py",
        ("sklearn.linear_model.LinearRegression",),
    ),
    Suite(
        "linear_model/_glm/tests/test_glm.py",
        (
            "sklearn.linear_model.PoissonRegressor",
            "sklearn.linear_model.GammaRegressor",
            "sklearn.linear_model.TweedieRegressor",
        ),
    ),
    Suite(
        "linear_model/tests/test_logistic.py",
        ("sklearn.linear_model.LogisticRegression",),
    ),
    Suite(
        "tests/test_discriminant_analysis.py",
        (
            "sklearn.discriminant_analysis.LinearDiscriminantAnalysis",
            "sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis",
        ),
    ),
    Suite("tests/test_kernel_ridge.py", ("sklearn.kernel_ridge.KernelRidge",)),
    Suite(
        "linear_model/tests/test_sgd.py",
        ("sklearn.linear_model.SGDClassifier", "sklearn.linear_model.SGDRegressor"),
    ),
    Suite(
        "preprocessing/tests/test_polynomial.py",
        ("sklearn.preprocessing.SplineTransformer",),
    ),
)

OUTCOMES = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed")


# ---------------------------------------------------------------------------
# In the child: the copied module's rebinding
# ---------------------------------------------------------------------------


def _load(qualified):
    module, _, name = qualified.partition(":")
    return getattr(importlib.import_module(module), name)


_child_config = None


def _config():
    global _child_config
    if _child_config is None:
        with open(os.environ[CONFIG_ENV]) as f:
            config = json.load(f)
        config["ours"] = {
            _load(theirs): _load(ours)
            for theirs, ours in config["substitutions"].items()
        }
        _child_config = config
    return _child_config


class _ModuleWithOurs(types.ModuleType):
    """A scikit-learn module seen through the copied test module: the classes
    of the suite are ours; everything else, reads and writes alike (so that a
    test's ``monkeypatch`` reaches scikit-learn), is the module itself."""

    def __init__(self, module):
        super().__init__(module.__name__, module.__doc__)
        self.__dict__["_sklearn_suites_module"] = module

    def __getattr__(self, name):
        return _ours(getattr(self.__dict__["_sklearn_suites_module"], name))

    def __setattr__(self, name, value):
        setattr(self.__dict__["_sklearn_suites_module"], name, value)

    def __delattr__(self, name):
        delattr(self.__dict__["_sklearn_suites_module"], name)

    def __dir__(self):
        return dir(self.__dict__["_sklearn_suites_module"])

    def __repr__(self):
        return f"<{self.__name__}, with sklearn_ooc's estimators>"


_views = {}


def _public_module(cls):
    parts = cls.__module__.split(".")
    while parts and parts[-1].startswith("_"):
        parts.pop()
    return ".".join(parts)


def _leads_to_ours(module):
    name = module.__name__
    for theirs in _config()["ours"]:
        public = _public_module(theirs)
        if name in (theirs.__module__, public) or public.startswith(name + "."):
            return True
    return False


def _ours(value):
    ours = _config()["ours"]
    if isinstance(value, type):
        try:
            return ours.get(value, value)
        except TypeError:  # a class whose metaclass makes it unhashable
            return value
    if (
        isinstance(value, types.ModuleType)
        and not isinstance(value, _ModuleWithOurs)
        and _leads_to_ours(value)
    ):
        if value.__name__ not in _views:
            _views[value.__name__] = _ModuleWithOurs(value)
        return _views[value.__name__]
    return value


class _NotConstructed:
    """Stands for an estimator that the test module builds at import but
    that our class cannot build: each use raises the constructor's error, so
    that the tests using it fail with that error and the others run."""

    def __init__(self, cls, args, kwargs, error):
        self.__dict__.update(cls=cls, args=args, kwargs=kwargs, error=error)

    def _raise(self):
        error = self.__dict__["error"]
        raise type(error)(*error.args) from error

    def get_params(self, deep=True):
        # Present, so that scikit-learn's test ids and ``clone`` take this for
        # an estimator and then meet the error, as they would have at import.
        self._raise()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self._raise()

    def __repr__(self):
        d = self.__dict__
        arguments = [repr(a) for a in d["args"]]
        arguments += [f"{k}={v!r}" for k, v in d["kwargs"].items()]
        return f"{d['cls'].__name__}({', '.join(arguments)})"


def construct(cls, *args, **kwargs):
    """``cls(*args, **kwargs)``, or a stand-in raising its error when used."""
    try:
        return cls(*args, **kwargs)
    except TypeError as error:
        if cls not in _config()["ours"].values():
            raise
        return _NotConstructed(cls, args, kwargs, error)


def rebind(namespace):
    """Make the suite's scikit-learn classes in ``namespace`` ours."""
    for name, value in list(namespace.items()):
        if not name.startswith("__"):
            namespace[name] = _ours(value)


# ---------------------------------------------------------------------------
# In the child: the pytest plugin
# ---------------------------------------------------------------------------


class TestTimeout(BaseException):
    """Raised in a test that runs too long; a BaseException, so that the
    test's own ``except Exception`` does not swallow it."""


def _qualified_name(value):
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, _ModuleWithOurs):
        return repr(value)
    return f"{type(value).__name__} {getattr(value, '__qualname__', '')}".strip()


def _write_json(path, data):
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


def matches(test_id, pattern):
    """Whether ``test_id`` matches ``pattern``, where ``*`` is any text and
    everything else is itself (brackets too: they are in parametrized ids)."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, test_id) is not None


def _local_id(nodeid):
    return nodeid.split("::", 1)[1] if "::" in nodeid else nodeid


def pytest_collection_modifyitems(session, config, items):
    if CONFIG_ENV not in os.environ:
        return
    inapplicable = _config()["inapplicable"]
    kept, deselected, listed = [], [], []
    for item in items:
        local = _local_id(item.nodeid)
        reason = next(
            (why for pattern, why in inapplicable.items() if matches(local, pattern)),
            None,
        )
        if reason is None:
            kept.append(item)
        else:
            deselected.append(item)
            listed.append({"nodeid": item.nodeid, "reason": reason})
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
    _config()["collection"] = {"listed": listed, "errors": []}


def pytest_collectreport(report):
    if CONFIG_ENV in os.environ and report.failed:
        _config().setdefault("collection_errors", []).append(
            {"nodeid": report.nodeid, "message": str(report.longrepr)[-4000:]}
        )


def pytest_collection_finish(session):
    if CONFIG_ENV not in os.environ:
        return
    config = _config()
    theirs = set(config["ours"])
    bindings, unbound = {}, []
    modules = {id(item.module): item.module for item in session.items}
    for module in modules.values():
        for name, value in vars(module).items():
            if isinstance(value, type) and value in theirs:
                unbound.append(f"{name} is {_qualified_name(value)}")
            elif isinstance(value, _ModuleWithOurs) or (
                isinstance(value, type) and value in config["ours"].values()
            ):
                bindings[name] = _qualified_name(value)
    _write_json(
        config["collection_path"],
        {
            "collected": [item.nodeid for item in session.items],
            "listed": config.get("collection", {}).get("listed", []),
            "errors": config.get("collection_errors", []),
            "bindings": bindings,
            "unbound": unbound,
        },
    )


def _expire(signum, frame):
    raise TestTimeout(f"the test ran for more than {_config()['test_timeout']} s")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    seconds = _config()["test_timeout"] if CONFIG_ENV in os.environ else 0
    if not seconds:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _message(report):
    longrepr = report.longrepr
    if hasattr(report, "wasxfail"):
        return report.wasxfail
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        return longrepr[2]
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message
    lines = str(longrepr).strip().splitlines()
    return lines[-1] if lines else ""


def _raised_in(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is None:
        return ""
    path = Path(crash.path)
    for package in ("sklearn_ooc", "sklearn"):
        if package in path.parts:
            i = len(path.parts) - 1 - path.parts[::-1].index(package)
            return f"{'/'.join(path.parts[i:])}:{crash.lineno}"
    return f"{path.name}:{crash.lineno}"


_records = {}


def pytest_runtest_logreport(report):
    if CONFIG_ENV not in os.environ:
        return
    record = _records.setdefault(
        report.nodeid,
        {"nodeid": report.nodeid, "outcome": None, "message": "", "duration": 0.0},
    )
    record["duration"] += report.duration
    failed = report.failed
    if report.when == "call":
        if hasattr(report, "wasxfail"):
            record["outcome"] = "xfailed" if report.skipped else "xpassed"
        else:
            record["outcome"] = report.outcome
    elif report.when == "setup" and not report.passed:
        record["outcome"] = "errors" if failed else "skipped"
    elif report.when == "teardown" and failed and record["outcome"] == "passed":
        record["outcome"] = "errors"
    if (failed or report.skipped) and not record["message"]:
        record["message"] = _message(report)
        record["raised_in"] = _raised_in(report)
    if report.when == "teardown":
        record["duration"] = round(record["duration"], 3)
        with open(_config()["outcomes_path"], "a") as f:
            f.write(json.dumps(_records.pop(report.nodeid)) + "\n")


# ---------------------------------------------------------------------------
# In the parent: preparing a suite
# ---------------------------------------------------------------------------


def sklearn_dir():
    import sklearn

    return Path(sklearn.__file__).resolve().parent


def our_classes(suite):
    """``{scikit-learn class: our class}`` from the ``out_of_core`` registry."""
    from sklearn_ooc._out_of_core import _REGISTRY, _load_registry

    _load_registry()
    found = {}
    for dotted in suite.classes:
        theirs = _load(":".join(dotted.rsplit(".", 1)))
        if theirs not in _REGISTRY:
            raise SystemExit(f"sklearn_ooc registers no counterpart of {dotted}")
        found[theirs] = _REGISTRY[theirs][0]
    return found


def _public_path(cls):
    """``module:Name`` under the shortest module of ours that exports it."""
    parts = cls.__module__.split(".")
    for n in range(1, len(parts) + 1):
        module = importlib.import_module(".".join(parts[:n]))
        if getattr(module, cls.__name__, None) is cls:
            return f"{module.__name__}:{cls.__name__}"
    return f"{cls.__module__}:{cls.__name__}"


def _binds_a_name(statement):
    return any(
        isinstance(node, (ast.Import, ast.ImportFrom))
        and getattr(node, "module", None) != "__future__"
        for node in ast.walk(statement)
    )


def _runs_at_import(tree):
    """The nodes of a module that run when it is imported: all but the
    bodies of its functions and lambdas (decorators and defaults run)."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            todo.extend(node.decorator_list)
            todo.extend(node.args.defaults)
            todo.extend(d for d in node.args.kw_defaults if d is not None)
        elif not isinstance(node, ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))


def rewrite(source, class_names):
    """The test module, line for line, with the suite's classes made ours.

    ``_sklearn_suites_rebind(globals())`` follows each top-level import, on
    the same line, and each call of a class of the suite (``class_names``)
    that runs at import, such as an estimator in a ``parametrize`` list,
    goes through ``_sklearn_suites_construct``: where ours does not take
    the arguments, only the tests that use that estimator fail, not the
    whole module. The line numbers stay scikit-learn's.
    """
    tree = ast.parse(source)
    lines = [line.encode() for line in source.splitlines(keepends=True)]
    edits = []  # (line index, byte offset, text to insert[, bytes it replaces])
    imports = [
        statement
        for statement in tree.body
        if not isinstance(
            statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        )
        and _binds_a_name(statement)
    ]
    if not imports:
        raise ValueError("the test module has no top-level import to follow")
    for statement in imports:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            at = (statement.end_lineno - 1, statement.end_col_offset)
            edits.append((*at, f"; {REBIND_NAME}(globals())"))
        else:  # a compound statement: after it, on a line of its own
            at = (statement.end_lineno - 1, len(lines[statement.end_lineno - 1]))
            edits.append((*at, f"{REBIND_NAME}(globals())\n"))
    edits.append(
        (
            imports[0].lineno - 1,
            0,
            f"from sklearn_suites import construct as {CONSTRUCT_NAME}, "
            f"rebind as {REBIND_NAME}; ",
        )
    )
    for node in _runs_at_import(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = getattr(func, "id", None) or getattr(func, "attr", None)
        line = lines[func.end_lineno - 1]
        if (
            name in class_names
            and func.lineno == func.end_lineno
            and line[func.end_col_offset : func.end_col_offset + 1] == b"("
        ):
            # PCA(n_components=2) -> _sklearn_suites_construct(PCA, n_components=2)
            edits.append((func.lineno - 1, func.col_offset, f"{CONSTRUCT_NAME}("))
            edits.append((func.lineno - 1, func.end_col_offset, ", ", 1))
    for index, offset, text, *replaced in sorted(edits, reverse=True):
        line = lines[index]
        end = offset + sum(replaced)
        lines[index] = line[:offset] + text.encode() + line[end:]
    return b"".join(lines).decode()


def load_inapplicable(path=SKIPS_FILE):
    """``{suite name: {node id pattern: reason}}`` from the reviewed list."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    with open(path, "rb") as f:
        listed = tomllib.load(f)
    for suite_name, patterns in listed.items():
        for pattern, reason in patterns.items():
            if not isinstance(reason, str) or len(reason.split()) < 3:
                raise SystemExit(
                    f"{path}: [{suite_name}] {pattern!r} needs a reason, in words"
                )
    return listed


# ---------------------------------------------------------------------------
# In the parent: which class a test touches
# ---------------------------------------------------------------------------


def _names(nodes):
    found = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                found.add(sub.id)
            elif isinstance(sub, ast.Attribute):
                found.add(sub.attr)
            elif isinstance(sub, ast.arg):
                found.add(sub.arg)
    return found


class Attribution:
    """Which of the suite's classes each test touches, read from the source.

    A test touches a class when its body, or a module-level function, class,
    fixture or constant it uses (followed transitively), names the class.
    Names in its decorators count only for the parameter that its node id
    names (``test_x[MiniBatchKMeans]`` does not touch ``KMeans``); when the id
    names none of them, all of them count.
    """

    def __init__(self, source, classes):
        self.tree = ast.parse(source)
        self.classes = classes  # {scikit-learn name: our name}
        self.definitions = {}
        for node in self.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                self.definitions[node.name] = [node]
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = (
                    node.targets if isinstance(node, ast.Assign) else [node.target]
                )
                for name in _names(targets):
                    self.definitions.setdefault(name, []).append(node.value)
        self._closures = {}

    def closure(self, names):
        seen, todo = set(), list(names)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self._closures:
                seen |= self._closures[name]
                continue
            todo.extend(_names(self.definitions.get(name, [])) - seen)
        return seen

    def _test_node(self, local_id):
        path = local_id.split("[", 1)[0].split("::")
        nodes = self.tree.body
        found = None
        for part in path:
            found = next(
                (
                    n
                    for n in nodes
                    if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part
                ),
                None,
            )
            if found is None:
                return None
            nodes = found.body
        return found

    def classes_of(self, nodeid):
        local = _local_id(nodeid)
        node = self._test_node(local)
        if node is None:
            return []
        params = local.split("[", 1)[1] if "[" in local else ""
        for theirs, ours in self.classes.items():
            params = re.sub(rf"\b{re.escape(ours)}\b", theirs, params)
        body = [*node.body, node.args] if hasattr(node, "args") else node.body
        decorated = {
            name
            for name in _names(node.decorator_list)
            if name in self.definitions or name[:1].isupper()
        }
        named = {n for n in decorated if re.search(rf"\b{re.escape(n)}\b", params)}
        if named:
            # The parameter is the subject: a helper that also names another
            # class (``if klass is SparseSGDRegressor``) does not test it.
            touched = self.closure(named) | _names(body)
        else:
            touched = self.closure(_names(body)) | self.closure(decorated)
        return sorted(c for c in self.classes if c in touched)


# ---------------------------------------------------------------------------
# In the parent: what the failures have in common
# ---------------------------------------------------------------------------


def _message_differs(match, names):
    expected, actual = match["expected"], match["actual"]
    for ours, theirs in names.items():
        if re.search(expected.replace(theirs, ours), actual):
            return f"error message names {ours} where the test expects {theirs}"
    return f"error message is not scikit-learn's; ours: {actual[:70]}"


def _no_attribute(match, names):
    owner = match["type"] or match["object"]
    if any(name in owner for pair in names.items() for name in pair):
        return f"no attribute '{match['attribute']}'"
    return match[0].removeprefix("AttributeError: ")


# (pattern, name of the cause); the first pattern that matches names it
_CAUSES = (
    (
        r"(\w+)\.(\w+)\(\) got an unexpected keyword argument '(\w+)'",
        lambda m, _: (
            f"has no parameter '{m[3]}'"
            if m[2] == "__init__"
            else f"{m[2]}() has no parameter '{m[3]}'"
        ),
    ),
    (
        r"Invalid parameter '(\w+)' for estimator",
        lambda m, _: f"has no parameter '{m[1]}'",
    ),
    (r"TestTimeout", lambda m, _: "per-test timeout"),
    (
        r"^AttributeError: (type object '(?P<type>[\w.]+)'|'(?P<object>[\w.]+)' "
        r"object) has no attribute '(?P<attribute>\w+)'",
        _no_attribute,
    ),
    (
        r"The '(\w+)' parameter of \w+ must be (.*?)\. Got (.*?) instead",
        lambda m, _: f"parameter '{m[1]}' refuses {m[3][:40]}",
    ),
    (r"DID NOT RAISE <class '([\w.]+)'>", lambda m, _: f"did not raise {m[1]}"),
    (r"DID NOT WARN.*?(\w+Warning)", lambda m, _: f"did not warn {m[1]}"),
    (
        r"Regex pattern did not match.*?Expected regex: ['\"](?P<expected>.*?)['\"]"
        r"\n.*?Actual message: ['\"](?P<actual>.*?)['\"]$",
        _message_differs,
    ),
    (
        r"assert dtype\('float64'\) == .*float32",
        lambda m, _: "float32 input gives float64 results",
    ),
    (
        r"^(AssertionError: )?\s*(Not equal to tolerance|Arrays are not (almost )?"
        r"equal)",
        lambda m, _: "numbers differ from scikit-learn's (assert_allclose/equal)",
    ),
)


def cause(message, names=None):
    """A short, countable name for what made a test fail; ``names`` maps
    our class names to scikit-learn's."""
    names = names or {}
    text = re.sub(r"\b0x[0-9a-f]+\b", "0x...", message.strip())
    for pattern, name in _CAUSES:
        match = re.search(pattern, text, flags=re.S | re.M)
        if match:
            return name(match, names)
    first = text.splitlines()[0] if text else "(no message)"
    first = re.sub(r"\b\d+(\.\d+)?(e[-+]?\d+)?\b", "N", first)
    first = re.sub(r"array\(\[.*", "array(...)", first)
    return first[:110]


def top_causes(records, n=8, names=None):
    counter = collections.Counter(
        cause(r["message"], names)
        for r in records
        if r["outcome"] in ("failed", "errors")
    )
    return counter.most_common(n)


# ---------------------------------------------------------------------------
# In the parent: running a suite
# ---------------------------------------------------------------------------


def _kill(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_suite(suite, *, inapplicable, timeout, test_timeout, keyword, keep):
    ours = our_classes(suite)
    source = (sklearn_dir() / suite.module).read_text()
    workdir = Path(tempfile.mkdtemp(prefix=f"sklearn_suites_{suite.name}_"))
    try:
        shutil.copy(sklearn_dir() / "conftest.py", workdir / "conftest.py")
        (workdir / suite.file_name).write_text(
            rewrite(source, {theirs.__name__ for theirs in ours})
        )
        (workdir / "pytest.ini").write_text("[pytest]\n")
        config_path = workdir / "sklearn_suites_config.json"
        outcomes_path = workdir / "outcomes.jsonl"
        collection_path = workdir / "collection.json"
        _write_json(
            config_path,
            {
                "substitutions": {
                    f"{t.__module__}:{t.__name__}": _public_path(o)
                    for t, o in ours.items()
                },
                "inapplicable": inapplicable.get(suite.name, {}),
                "test_timeout": test_timeout,
                "outcomes_path": str(outcomes_path),
                "collection_path": str(collection_path),
            },
        )
        env = dict(os.environ)
        env[CONFIG_ENV] = str(config_path)
        # scikit-learn skips its float32 variants unless asked; keeping the
        # input's dtype is part of being a drop-in, so they run here.
        env["SKLEARN_RUN_FLOAT32_TESTS"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(
            [str(TOOLS_DIR), str(workdir), env.get("PYTHONPATH", "")]
        ).rstrip(os.pathsep)
        command = [
            sys.executable,
            "-m",
            "pytest",
            suite.file_name,
            "-p",
            "sklearn_suites",
            "-p",
            "no:cacheprovider",
            "-q",
            "--rootdir",
            str(workdir),
            "-c",
            str(workdir / "pytest.ini"),
        ]
        if keyword:
            command += ["-k", keyword]
        log_path = workdir / "pytest.log"
        start = time.monotonic()
        timed_out = False
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                command,
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # so that a timeout also ends its workers
            )
            try:
                returncode = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill(process)
                returncode = process.wait()
        seconds = time.monotonic() - start
        return _results(
            suite,
            ours,
            source,
            seconds=seconds,
            timed_out=timed_out,
            returncode=returncode,
            outcomes_path=outcomes_path,
            collection_path=collection_path,
            log=log_path.read_text(errors="replace"),
            patterns=None if keyword else inapplicable.get(suite.name, {}),
        )
    finally:
        if keep:
            print(f"  kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _results(
    suite,
    ours,
    source,
    *,
    seconds,
    timed_out,
    returncode,
    outcomes_path,
    collection_path,
    log,
    patterns,
):
    names = {t.__name__: o.__name__ for t, o in ours.items()}
    attribution = Attribution(source, names)
    collection = {"collected": [], "listed": [], "errors": [], "bindings": {}}
    if collection_path.exists():
        collection = json.loads(collection_path.read_text())
    tests = []
    if outcomes_path.exists():
        tests = [json.loads(line) for line in outcomes_path.read_text().splitlines()]
    ran = {t["nodeid"] for t in tests}
    for nodeid in collection["collected"]:
        if nodeid not in ran:
            tests.append(
                {
                    "nodeid": nodeid,
                    "outcome": "not run",
                    "message": "the module timed out" if timed_out else "",
                }
            )
    for record in tests + collection["listed"]:
        record["classes"] = attribution.classes_of(record["nodeid"])
    problems = []
    if collection.get("unbound"):
        problems.append("still scikit-learn's: " + ", ".join(collection["unbound"]))
    for error in collection.get("errors", []):
        problems.append(f"collection error in {error['nodeid']}:\n{error['message']}")
    if not collection_path.exists():
        problems.append("pytest did not collect; its output ends:\n" + log[-3000:])
    if timed_out:
        problems.append(f"stopped after {seconds:.0f} s (--timeout)")
    elif returncode not in (0, 1, 5):  # 5: -k left no test to run
        problems.append(f"pytest exited with {returncode}; output:\n{log[-3000:]}")
    ids = [_local_id(t["nodeid"]) for t in tests + collection["listed"]]
    unused = [
        pattern
        for pattern in patterns or {}
        if not any(matches(i, pattern) for i in ids)
    ]
    if unused:
        problems.append(
            f"entries of {SKIPS_FILE.name} that match no test: " + ", ".join(unused)
        )
    return {
        "module": f"sklearn/{suite.module}",
        "classes": {
            f"{_public_module(t)}.{t.__name__}": _public_path(o).replace(":", ".")
            for t, o in ours.items()
        },
        "bindings": collection.get("bindings", {}),
        "seconds": round(seconds, 1),
        "timed_out": timed_out,
        "returncode": returncode,
        "problems": problems,
        "counts": counts(tests, collection["listed"]),
        "per_class": {
            theirs: counts(
                [t for t in tests if theirs in t["classes"]],
                [t for t in collection["listed"] if theirs in t["classes"]],
            )
            for theirs in names
        },
        "tests": sorted(tests, key=lambda t: t["nodeid"]),
        "listed": collection["listed"],
    }


def counts(tests, listed):
    counter = collections.Counter(t["outcome"] for t in tests)
    result = {outcome: counter.get(outcome, 0) for outcome in OUTCOMES}
    result["not run"] = counter.get("not run", 0)
    result["listed"] = len(listed)
    return result


def suite_ok(result):
    c = result["counts"]
    return not result["problems"] and not (
        c["failed"] or c["errors"] or c["xpassed"] or c["not run"]
    )


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------

_COLUMNS = ("passed", "failed", "errors", "skipped", "xfailed", "listed", "not run")
_OTHER = "(none of the suite's classes)"


def _table(rows):
    width = max(len(label) for label, _, _ in rows) + 2
    lines = []
    for label, cells, seconds in rows:
        text = "".join(f"{cells[k]:>9}" for k in _COLUMNS)
        lines.append(f"{label:<{width}}{text}{seconds:>9}")
    return "\n".join(lines)


def report(results, n_causes, out=sys.stdout):
    """Counts per module and per class, then the commonest causes of failure."""
    rows = [("", {k: k for k in _COLUMNS}, "seconds")]
    for name, result in results.items():
        label = f"{name} ({Path(result['module']).name})"
        rows.append((label, result["counts"], f"{result['seconds']:.0f}"))
        for theirs, ours in result["classes"].items():
            short = theirs.rsplit(".", 1)[1]
            label = f"  {short} -> {ours.rsplit('.', 1)[1]}"
            rows.append((label, result["per_class"][short], ""))
    print(_table(rows), file=out)
    for name, result in results.items():
        names = {
            ours.rsplit(".", 1)[1]: theirs.rsplit(".", 1)[1]
            for theirs, ours in result["classes"].items()
        }
        groups = {theirs: [] for theirs in result["per_class"]}
        groups[_OTHER] = []
        for test in result["tests"]:
            for theirs in test["classes"] or [_OTHER]:
                groups[theirs].append(test)
        for theirs, tests in groups.items():
            causes = top_causes(tests, n_causes, names) if n_causes else []
            if causes:
                print(f"\n{name}, {theirs}: commonest causes of failure", file=out)
                for text, count in causes:
                    print(f"  {count:>5}  {text}", file=out)
        for problem in result["problems"]:
            print(f"\n{name}: {problem}", file=out)


def record(results, path, *, sklearn_version):
    """Keep, per suite, its counts and the tests that passed in ``path``
    (merged into what is there for the suites that did not run): the figures
    the documentation publishes and the reference ``--against`` checks."""
    path = Path(path)
    recorded = json.loads(path.read_text()) if path.exists() else {}
    if recorded.get("sklearn") != sklearn_version:
        recorded = {}
    suites = recorded.get("suites", {})
    for name, result in results.items():
        suites[name] = {
            "module": result["module"],
            "classes": result["classes"],
            "counts": result["counts"],
            "per_class": result["per_class"],
            "passed": sorted(
                t["nodeid"] for t in result["tests"] if t["outcome"] == "passed"
            ),
        }
    ordered = {s.name: suites[s.name] for s in SUITES if s.name in suites}
    _write_json(path, {"sklearn": sklearn_version, "suites": ordered})


def regressions(results, path):
    """The tests recorded as passing in ``path`` that do not pass now, per
    suite, for the suites that ran."""
    recorded = json.loads(Path(path).read_text())["suites"]
    lost = {}
    for name, result in results.items():
        if name not in recorded:
            continue
        now = {t["nodeid"] for t in result["tests"] if t["outcome"] == "passed"}
        # a test that no longer exists (another scikit-learn) is not lost
        exists = {t["nodeid"] for t in result["tests"] + result["listed"]}
        missing = sorted((set(recorded[name]["passed"]) & exists) - now)
        if missing:
            lost[name] = missing
    return lost


def _broken(result):
    """Problems that make the counts meaningless (not the failures of tests)."""
    return [p for p in result["problems"] if "match no test" not in p]


def _keys(suite):
    keys = {suite.name, suite.file_name, Path(suite.module).stem}
    keys |= {dotted.rsplit(".", 1)[1] for dotted in suite.classes}
    keys |= {ours.__name__ for ours in our_classes(suite).values()}
    return {key.lower() for key in keys}


def select(only):
    if not only:
        return list(SUITES)
    wanted = {name.lower() for name in only}
    keys = {suite: _keys(suite) for suite in SUITES}
    missing = wanted - set().union(*keys.values())
    if missing:
        known = ", ".join(suite.name for suite in SUITES)
        raise SystemExit(f"--only: no suite for {sorted(missing)}; suites: {known}")
    return [suite for suite in SUITES if keys[suite] & wanted]


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Run scikit-learn's test modules against sklearn_ooc's "
        "estimators and count the outcomes."
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="suites to run: a suite (ridge), its file (test_ridge.py) or a "
        "class in it, scikit-learn's or ours (Ridge, StreamingRidge)",
    )
    parser.add_argument("--json", metavar="PATH", help="write every outcome here")
    parser.add_argument(
        "--timeout",
        type=float,
        default=900,
        metavar="S",
        help="stop a module after S seconds (default 900)",
    )
    parser.add_argument(
        "--test-timeout",
        type=float,
        default=120,
        metavar="S",
        help="fail a test that runs more than S seconds; 0: no limit (default 120)",
    )
    parser.add_argument("-k", metavar="EXPR", help="pytest's -k, for each module")
    parser.add_argument(
        "--causes",
        type=int,
        default=6,
        metavar="N",
        help="print the N commonest causes of failure per class (default 6)",
    )
    parser.add_argument(
        "--skips",
        type=Path,
        default=SKIPS_FILE,
        metavar="PATH",
        help="the reviewed list of inapplicable tests",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directories"
    )
    parser.add_argument(
        "--record",
        metavar="PATH",
        help="write the counts and the passing tests of each suite that ran "
        "here (the file the documentation publishes)",
    )
    parser.add_argument(
        "--against",
        metavar="PATH",
        help="exit 1 only when a test recorded as passing in PATH does not "
        "pass now, or a module cannot run",
    )
    args = parser.parse_args(argv)

    import sklearn

    import sklearn_ooc

    inapplicable = load_inapplicable(args.skips)
    results = {}
    for suite in select(args.only):
        print(f"running {suite.name} ...", file=sys.stderr, flush=True)
        results[suite.name] = run_suite(
            suite,
            inapplicable=inapplicable,
            timeout=args.timeout,
            test_timeout=args.test_timeout,
            keyword=args.k,
            keep=args.keep,
        )
    report(results, args.causes)
    if args.json:
        _write_json(
            args.json,
            {
                "sklearn": sklearn.__version__,
                "sklearn_ooc": sklearn_ooc.__version__,
                "python": sys.version.split()[0],
                "keyword": args.k,
                "suites": results,
            },
        )
    if args.record:
        record(results, args.record, sklearn_version=sklearn.__version__)
    if args.against:
        lost = regressions(results, args.against)
        for name, nodeids in lost.items():
            print(f"\n{name}: passed in {args.against}, not now:", file=sys.stderr)
            for nodeid in nodeids:
                print(f"  {nodeid}", file=sys.stderr)
        broken = any(_broken(r) for r in results.values())
        return 1 if lost or broken else 0
    return 0 if all(suite_ok(r) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
