"""Sphinx helpers of the sklearn_ooc documentation.

``.. command-help:: [COMMAND]``
    The ``--help`` text of ``python -m sklearn_ooc`` (or of one of its
    commands), taken from the package's argument parser when the page is
    built, so that the page never disagrees with the command.

API completeness
    Every name in the ``__all__`` of a public module of the package must be
    listed in an ``autosummary`` of ``api.rst`` (under its own name or under
    another name of the same object); a missing name is a warning, hence an
    error under ``-W``.

``.. sklearn-suites:: PATH`` with ``:counts:`` or ``:listed:``
    The per-class counts of scikit-learn's own test modules run against our
    classes, from the record ``tools/sklearn_suites.py --record`` writes, or
    the reviewed list of the tests that cannot apply, with their reasons.

Aliases
    A cross-reference to another public name of a documented object (such as
    ``sklearn_ooc.LazyArray`` for ``sklearn_ooc.data.LazyArray``) links to
    the page of that object.

scikit-learn's labels
    Methods inherited from scikit-learn (``set_output``, ``set_fit_request``,
    ``get_metadata_routing``) refer to labels and glossary terms of
    scikit-learn's own documentation; those few link to scikit-learn's site.

Re-exported constants
    A module constant documented with a ``#:`` comment where it is defined
    keeps that comment when documented under the name it is re-exported as.

numpydoc's warnings
    numpydoc reports some problems of a docstring (an unknown section) as a
    Python warning, which Sphinx does not count; they become Sphinx warnings.

Autosummary summaries
    Works around a bug of ``sphinx.ext.autosummary`` (up to Sphinx 9 at
    least) that cuts a summary at a period inside an inline literal (``0 ..
    n``), which breaks the markup; the patch is applied only if the bug is
    there.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import re
import sys
from contextlib import contextmanager

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_refnode

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

logger = logging.getLogger(__name__)

PACKAGE = "sklearn_ooc"
API_PAGE = "api"
# Other public names of documented objects -> the name of their page.
_ALIASES = {}


# -- command-help ------------------------------------------------------------


@contextmanager
def _columns(width):
    """argparse wraps help text to the terminal width: fix it."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


class CommandHelp(SphinxDirective):
    optional_arguments = 1
    has_content = False

    def run(self):
        from sklearn_ooc.__main__ import build_parser

        with _columns(80):
            parser = build_parser()
            if self.arguments:
                name = self.arguments[0]
                commands = {}
                for action in parser._actions:
                    if isinstance(action, argparse._SubParsersAction):
                        commands.update(action.choices)
                if name not in commands:
                    raise self.error(
                        f"python -m {PACKAGE} has no command {name!r}; it has "
                        f"{', '.join(sorted(commands))}"
                    )
                parser = commands[name]
            text = parser.format_help().rstrip()
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def _plain(text):
    """``text`` as rst that means itself: ``n_iter_`` is not a reference."""
    return re.sub(r"(?<=\w)_(?!\w)|[*`|]", lambda m: "\\" + m.group(), text)


class SklearnSuites(SphinxDirective):
    """A table from the files of ``tools/sklearn_suites.py``: the counts of
    scikit-learn's test modules run against our classes (``:counts:``, from
    the record the tool writes) or the reviewed list of the tests that cannot
    apply, with their reasons (``:listed:``)."""

    required_arguments = 1  # the record or the list, relative to this page
    option_spec = {"counts": directives.flag, "listed": directives.flag}
    has_content = False

    def run(self):
        _, path = self.env.relfn2path(self.arguments[0])
        self.env.note_dependency(path)
        if "listed" in self.options:
            with open(path, "rb") as f:
                listed = tomllib.load(f)
            header = ("module", "tests", "why they cannot apply")
            rows = [
                (f"``test_{suite}.py``", f"``{test}``", _plain(reason))
                for suite, tests in listed.items()
                for test, reason in tests.items()
            ]
            return self._table(header, rows, widths=(20, 35, 45))
        with open(path, encoding="utf-8") as f:
            recorded = json.load(f)
        header = ("scikit-learn's class", "ours", "passed", "failed", "listed")
        rows = []
        for suite in recorded["suites"].values():
            for theirs, ours in suite["classes"].items():
                c = suite["per_class"][theirs.rsplit(".", 1)[1]]
                failed = c["failed"] + c["errors"] + c["not run"]
                rows.append(
                    (
                        f":class:`~{theirs}`",
                        f":class:`~{ours}`",
                        str(c["passed"]),
                        str(failed),
                        str(c["listed"]),
                    )
                )
        return self._table(header, rows, widths=(30, 34, 12, 12, 12))

    def _table(self, header, rows, widths):
        # a list-table parsed as rst, so that the roles in its cells resolve
        lines = [
            ".. list-table::",
            "   :header-rows: 1",
            f"   :widths: {' '.join(map(str, widths))}",
            "",
        ]
        for row in (header, *rows):
            lines.append(f"   * - {row[0]}")
            lines.extend(f"     - {cell}" for cell in row[1:])
        container = nodes.container()
        self.state.nested_parse(StringList(lines, self.env.docname), 0, container)
        return container.children


# -- the API page --------------------------------------------------------------


def public_modules():
    """The package and its modules whose names have no leading underscore."""
    package = importlib.import_module(PACKAGE)
    yield package
    for info in pkgutil.walk_packages(package.__path__, PACKAGE + "."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        yield importlib.import_module(info.name)


def public_names():
    """``{full name: object}`` of every name in a public ``__all__``."""
    names = {}
    for module in public_modules():
        for name in getattr(module, "__all__", ()):
            if name.startswith("__"):  # __version__
                continue
            names[f"{module.__name__}.{name}"] = getattr(module, name)
    return names


def documented_names(path):
    """``(full name, has a page)`` listed in the ``autosummary`` directives of
    an rst file (a page: the directive has a ``:toctree:``)."""
    names = []
    module = None
    in_summary = False
    toctree = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            directive = re.match(
                r"\.\. (?:py:)?(?:currentmodule|module|automodule)::\s*(\S+)", line
            )
            if directive:
                module = directive.group(1)
                in_summary = False
                continue
            if line.startswith(".. autosummary::"):
                in_summary, toctree = True, False
                continue
            if not in_summary:
                continue
            if line.strip() and not line[0].isspace():
                in_summary = False
                continue
            entry = line.strip()
            if entry.startswith(":toctree:"):
                toctree = True
            if not entry or entry.startswith(":"):
                continue
            if not entry.startswith(PACKAGE + "."):
                entry = f"{module}.{entry}"
            names.append((entry, toctree))
    return names


def _object(full_name):
    module, _, name = full_name.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def check_api_page(app):
    """Warn about public names missing from the API page, and unknown ones."""
    listed = documented_names(os.path.join(app.srcdir, API_PAGE + ".rst"))
    public = public_names()
    pages = {}  # id(object) -> the name its page is generated under
    found = {}
    for name, has_page in listed:
        obj = _object(name)
        if obj is None:
            logger.warning(
                f"{API_PAGE}.rst lists {name}, which does not exist",
                location=API_PAGE,
            )
            continue
        found[name] = obj
        if has_page:
            if id(obj) in pages:
                logger.warning(
                    f"{API_PAGE}.rst gives {name} a page, but it has one as "
                    f"{pages[id(obj)]}",
                    location=API_PAGE,
                )
            pages.setdefault(id(obj), name)
    for name, obj in sorted(public.items()):
        if id(obj) not in pages:
            logger.warning(
                f"{name} is public (in __all__) but has no page in {API_PAGE}.rst",
                location=API_PAGE,
            )
    # Another name of a documented object links to its page.
    _ALIASES.clear()
    for name, obj in list(public.items()) + list(found.items()):
        if id(obj) in pages and pages[id(obj)] != name:
            _ALIASES[name] = pages[id(obj)]


def resolve_alias(app, env, node, contnode):
    """Link another public name of a documented object to its page."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    module = node.get("py:module")
    if target not in _ALIASES and module:
        target = f"{module}.{target}"  # a short name inside a module's page
    if target not in _ALIASES:
        return None
    domain = env.get_domain("py")
    canonical = _ALIASES[target]
    obj = domain.objects.get(canonical)
    if obj is None:
        return None
    return make_refnode(
        app.builder, node["refdoc"], obj.docname, obj.node_id, contnode, canonical
    )


# -- scikit-learn's labels ------------------------------------------------------

SKLEARN = "https://scikit-learn.org/stable/"
# (domain, role, target) -> (URL, title when the reference has none)
SKLEARN_TARGETS = {
    ("std", "term", "meta-estimator"): (
        SKLEARN + "glossary.html#term-meta-estimator",
        "meta-estimator",
    ),
    ("std", "ref", "metadata_routing"): (
        SKLEARN + "metadata_routing.html",
        "metadata routing",
    ),
    ("std", "ref", "df_output_transform"): (
        SKLEARN + "auto_examples/miscellaneous/plot_set_output.html",
        "set_output",
    ),
    ("std", "ref", "sphx_glr_auto_examples_miscellaneous_plot_set_output.py"): (
        SKLEARN + "auto_examples/miscellaneous/plot_set_output.html",
        "scikit-learn's set_output example",
    ),
}


def resolve_sklearn(app, env, node, contnode):
    """Link the labels of scikit-learn's docstrings to scikit-learn's site."""
    key = (node.get("refdomain"), node.get("reftype"), node.get("reftarget"))
    if key not in SKLEARN_TARGETS:
        return None
    url, title = SKLEARN_TARGETS[key]
    if not node.get("refexplicit") and node.get("reftype") == "ref":
        contnode = nodes.inline(title, title)
    reference = nodes.reference("", "", internal=False, refuri=url)
    reference += contnode
    return reference


# -- re-exported constants ---------------------------------------------------------


def _defining_comment(module_name, name):
    """The ``#:`` comment of ``name`` in the submodule that defines it."""
    from sphinx.errors import PycodeError
    from sphinx.pycode import ModuleAnalyzer

    obj = getattr(importlib.import_module(module_name), name)
    missing = object()
    for other in sorted(sys.modules):
        if not other.startswith(module_name + "."):
            continue
        if getattr(sys.modules[other], name, missing) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(other).find_attr_docs()
        except PycodeError:  # no source to analyze
            continue
        if ("", name) in docs:
            return list(docs[("", name)])
    return None


def constant_docstring(app, what, name, obj, options, lines):
    """Replace a builtin type's docstring on a re-exported constant."""
    if what != "data" or not name.startswith(PACKAGE + "."):
        return
    if type(obj).__doc__ is None or obj.__doc__ != type(obj).__doc__:
        return
    module_name, _, attr = name.rpartition(".")
    comment = _defining_comment(module_name, attr)
    if comment is not None:
        lines[:] = comment


# -- autosummary summaries -----------------------------------------------------------


def _patch_extract_summary():
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from sphinx.ext import autosummary

    original = autosummary.extract_summary
    if not hasattr(autosummary, "_parse_summary") or not hasattr(
        autosummary, "periods_re"
    ):
        return  # another Sphinx: leave it alone
    settings = get_default_settings(Parser)
    settings.env = None
    probe = original(["A ``0 .. 1`` b."], settings)
    if probe == "A ``0 .. 1`` b.":
        return  # fixed upstream

    def extract_summary(doc, settings):
        summary = original(doc, settings)
        node = autosummary._parse_summary([summary], settings)
        if not any(node.findall(nodes.system_message)):
            return summary
        # Grow the summary sentence by sentence until its markup is whole.
        text = " ".join(line.strip() for line in doc).strip()
        sentences = autosummary.periods_re.split(text)
        for i in range(len(sentences)):
            candidate = ". ".join(sentences[: i + 1]).rstrip(".") + "."
            node = autosummary._parse_summary([candidate], settings)
            if not any(node.findall(nodes.system_message)):
                return candidate
        return summary

    autosummary.extract_summary = extract_summary


# -- numpydoc's warnings ------------------------------------------------------------


def _route_numpydoc_warnings():
    import warnings

    original = warnings.showwarning
    if getattr(original, "_sklearn_ooc", False):
        return

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if f"{os.sep}numpydoc{os.sep}" in str(filename):
            logger.warning(str(message), type="numpydoc")
        else:
            original(message, category, filename, lineno, file, line)

    showwarning._sklearn_ooc = True
    warnings.showwarning = showwarning
    # Every occurrence, not the first one per line of numpydoc.
    warnings.filterwarnings("always", module=r"numpydoc\.")


def setup(app):
    _patch_extract_summary()
    _route_numpydoc_warnings()
    app.add_directive("command-help", CommandHelp)
    app.add_directive("sklearn-suites", SklearnSuites)
    app.connect("builder-inited", check_api_page)
    app.connect("missing-reference", resolve_alias)
    app.connect("missing-reference", resolve_sklearn)
    app.connect("autodoc-process-docstring", constant_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
