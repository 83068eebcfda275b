"""The documentation renders without the network."""

import re
import runpy
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "doc"

REMOTE = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)="(?:https?:)?//[^"]*"')


def test_the_docs_load_math_and_tables_from_the_build_itself():
    conf = runpy.run_path(str(DOC / "conf.py"))
    # MathJax is copied into the build (a CDN leaves raw LaTeX offline), and
    # sphinx-gallery's run-time tables, which load DataTables from CDNs, are
    # not written.
    assert "sphinx-mathjax-offline" in conf["extensions"]
    assert conf["sphinx_gallery_conf"]["write_computation_times"] is False


def test_a_page_with_math_references_no_remote_script_or_stylesheet(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "conf.py").write_text(
        'extensions = ["sphinx.ext.mathjax", "sphinx-mathjax-offline"]\n'
        'html_theme = "pydata_sphinx_theme"\n'
    )
    (source / "index.rst").write_text(
        "Math\n====\n\n.. math::\n\n   \\Sigma = \\frac{1}{n} X^T X\n"
    )
    out = tmp_path / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", str(source), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    page = (out / "index.html").read_text()
    assert "mathjax/tex-chtml.js" in page
    assert not REMOTE.findall(page)
    assert (out / "_static" / "mathjax" / "tex-chtml.js").exists()


def test_the_comparison_page_comes_before_the_api_reference():
    # Its "Previous" link led to the last page of the API reference (a
    # function); the API reference, with its generated pages, comes last.
    index = (DOC / "index.rst").read_text()
    toctree = index[index.index(".. toctree::") :].split("\n\n")[1].split()
    assert toctree[-2:] == ["comparison", "api"]


def test_code_lines_wrap():
    conf = runpy.run_path(str(DOC / "conf.py"))
    assert "wrap.css" in conf["html_css_files"]
    css = (DOC / "_static" / "wrap.css").read_text()
    assert "white-space: pre-wrap" in css


def test_the_comparison_figure_has_a_measured_row_for_each_workload():
    import csv

    with open(DOC / "comparison_timings.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 5
    for row in rows:
        assert float(row["ours"]) > 0 and float(row["scikit-learn"]) > 0
        assert row["machine"]
    comparison = (DOC / "comparison.rst").read_text()
    assert ".. plot::" in comparison and "comparison_timings.csv" in comparison
