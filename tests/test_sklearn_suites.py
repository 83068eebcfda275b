"""tools/sklearn_suites.py: scikit-learn's own test modules run on our classes."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "sklearn_suites.py"


def _tool():
    if "sklearn_suites" not in sys.modules:
        spec = importlib.util.spec_from_file_location("sklearn_suites", TOOL)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look themselves up
        spec.loader.exec_module(module)
    return sys.modules["sklearn_suites"]


def _run(*args):
    return subprocess.run(
        [sys.executable, str(TOOL), "--only", "kernel_ridge", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(
    "test_id, pattern, expected",
    [
        ("test_fit[KMeans-lloyd]", "*[*MiniBatchKMeans*]", False),
        ("test_fit[MiniBatchKMeans-dense]", "*[*MiniBatchKMeans*]", True),
        ("test_fit[K]", "*[*MiniBatchKMeans*]", False),
        ("test_score[float32]", "test_score[*]", True),
        ("test_score_samples", "test_score[*]", False),
        ("test_score_samples", "test_score", False),
        ("test_score", "test_score", True),
    ],
)
def test_patterns_take_brackets_literally(test_id, pattern, expected):
    assert _tool().matches(test_id, pattern) is expected


def test_every_pattern_of_the_reviewed_list_has_a_reason_in_words():
    listed = _tool().load_inapplicable()
    suites = {suite.name for suite in _tool().SUITES}
    assert set(listed) <= suites
    for patterns in listed.values():
        for reason in patterns.values():
            assert len(reason.split()) >= 3


def test_the_module_runs_on_our_class_and_counts_are_recorded(tmp_path):
    record = tmp_path / "passed.json"
    outcomes = tmp_path / "outcomes.json"
    result = _run("--record", str(record), "--json", str(outcomes))
    assert result.returncode == 0, result.stdout + result.stderr
    suite = json.loads(outcomes.read_text())["suites"]["kernel_ridge"]
    # every name under which the copied module reaches KernelRidge is ours
    assert suite["bindings"] == {
        "KernelRidge": "sklearn_ooc.kernel_ridge._kernel_ridge.OOCKernelRidge"
    }
    passed = [t["nodeid"] for t in suite["tests"] if t["outcome"] == "passed"]
    assert len(passed) >= 10
    recorded = json.loads(record.read_text())["suites"]["kernel_ridge"]
    assert recorded["passed"] == sorted(passed)
    assert recorded["per_class"]["KernelRidge"]["passed"] == len(passed)

    # A recorded pass that now fails is a regression; a recorded test that
    # no longer exists is not.
    skips = tmp_path / "skips.toml"
    skips.write_text(
        '[kernel_ridge]\n"test_kernel_ridge" = "listed here to make it not pass"\n'
    )
    data = json.loads(record.read_text())
    data["suites"]["kernel_ridge"]["passed"].append("test_kernel_ridge.py::gone")
    record.write_text(json.dumps(data))
    result = _run("--against", str(record), "--skips", str(skips))
    assert result.returncode == 1
    assert "test_kernel_ridge.py::test_kernel_ridge\n" in result.stderr
    assert "gone" not in result.stderr
    result = _run("--against", str(record))
    assert result.returncode == 0, result.stdout + result.stderr
