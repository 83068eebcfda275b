"""Sphinx configuration of the sklearn_ooc documentation.

Build with ``make html`` (runs the examples) or ``make html-noplot`` (does
not); both treat warnings as errors.
"""

import os
import sys
import warnings

import sklearn_ooc

sys.path.insert(0, os.path.abspath("sphinxext"))

# -- project -------------------------------------------------------------------

project = "sklearn_ooc"
author = "the sklearn_ooc developers"
copyright = "the sklearn_ooc developers"
release = sklearn_ooc.__version__
version = release.split(".dev")[0]

# -- general -------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax copied into the build: formulas render without the network.
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
    "sklearn_ooc_docs",
]

root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store"]
default_role = "literal"
pygments_style = "sphinx"

# -- API reference ---------------------------------------------------------------

# One page per public object, generated from the autosummary tables of
# api.rst (into generated/, which is not under version control).
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "groupwise"}
autodoc_typehints = "none"
# Methods are listed by autodoc (see _templates/autosummary/class.rst); the
# member tables of numpydoc would list them twice.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Examples sections are doctests run by the test suite; here they are shown.
numpydoc_use_plots = False
numpydoc_validation_checks = set()

# -- example gallery ------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    # "Examples using X" at the bottom of the API pages.
    "doc_module": ("sklearn_ooc",),
    "backreferences_dir": os.path.join("generated", "backreferences"),
    "remove_config_comments": True,
    "show_memory": False,
    # Its tables of run times load DataTables and jQuery from CDNs: not
    # written, so that no page needs the network.
    "write_computation_times": False,
    # A failing example fails the build (the default, stated on purpose).
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
}

# The examples run headless.
os.environ.setdefault("MPLBACKEND", "agg")
warnings.filterwarnings(
    "ignore",
    message="Matplotlib is currently using agg, which is a non-GUI backend",
    category=UserWarning,
)

# -- HTML ------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
# Long code lines and --help blocks wrap (doc/_static/wrap.css).
html_static_path = ["_static"]
html_css_files = ["wrap.css"]
html_title = f"sklearn_ooc {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": [], "getting_started": [], "comparison": []}
html_show_sourcelink = True
