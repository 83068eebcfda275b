"""The command line: ``python -m sklearn_ooc``."""

import os
import re
import subprocess
import sys

import pytest

from sklearn_ooc.__main__ import main


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "sklearn_ooc", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_help_lists_the_commands():
    result = _run("--help")
    assert result.returncode == 0
    assert "demo" in result.stdout


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_demo_fits_from_disk_and_cleans_up(tmp_path):
    result = _run("demo", "--size-mb", "4", "--tmpdir", str(tmp_path), "--n-jobs", "2")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Gaussian mixture: 10,000 rows x 50 features, 4 MB written" in out
    assert re.search(r"^\[1\] Log-likelihood: -[\d.e+]+ Time \(s\)", out, re.M)
    assert re.search(r"^\[2\] Improvement: [-\d.e+]+ Time \(s\)", out, re.M)
    assert "OOCGaussianMixture.fit(memmap)" in out
    assert "Ridge regression: 5,000 rows x 50 features, 2 MB written" in out
    assert "StreamingRidge.fit(memmap)" in out and "peak extra memory" in out
    assert "sklearn Ridge (load + fit in RAM)" in out
    summary = out.split("Summary")[1]
    differences = [
        float(x)
        for x in re.findall(
            r"largest difference from scikit-learn ([\d.e+-]+)", summary
        )
    ]
    assert len(differences) == 2 and max(differences) < 1e-10
    assert os.listdir(tmp_path) == []


def test_demo_removes_its_files_when_it_fails(tmp_path, monkeypatch):
    from sklearn_ooc import _demo

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(_demo.OOCGaussianMixture, "fit", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        _demo.run_demo(1, directory=tmp_path, out=open(os.devnull, "w"))
    assert os.listdir(tmp_path) == []
