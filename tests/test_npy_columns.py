"""Column names written by ``convert`` become ``feature_names_in_`` (issue 16)."""

import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from sklearn_ooc import open_array
from sklearn_ooc.data import BatchSource
from sklearn_ooc.data._npy import columns_path, read_columns
from sklearn_ooc.io import convert
from sklearn_ooc.linear_model import StreamingRidge

NAMES = ["a", "b", "c", "flag"]


def _frame(rng, n=60):
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    frame["flag"] = rng.integers(0, 2, size=n).astype(float)
    frame["label"] = rng.normal(size=n)
    return frame


@pytest.fixture
def rng():
    return np.random.default_rng(16)


@pytest.fixture(params=["parquet", "csv"])
def converted(request, tmp_path, rng):
    frame = _frame(rng)
    path = tmp_path / f"data.{request.param}"
    if request.param == "parquet":
        frame.to_parquet(path, row_group_size=17)
    else:
        frame.to_csv(path, index=False)
    X_path, y_path = convert(path, tmp_path / "out", target="label")
    return X_path, y_path


def _reference(X_path, y_path):
    return StreamingRidge().fit(np.load(X_path), np.load(y_path))


@pytest.mark.parametrize("opener", [str, open_array], ids=["path", "open_array"])
def test_fit_from_converted_npy_has_the_column_names(converted, opener):
    X_path, y_path = converted
    model = StreamingRidge().fit(opener(X_path), y_path)
    assert list(model.feature_names_in_) == NAMES
    assert model.n_features_in_ == len(NAMES)
    reference = _reference(X_path, y_path)
    assert not hasattr(reference, "feature_names_in_")
    assert_array_equal(model.coef_, reference.coef_)
    assert model.intercept_ == reference.intercept_
    # Predicting on the .npy (names checked) gives what the array gives.
    assert_array_equal(model.predict(X_path), reference.predict(np.load(X_path)))


def test_predicting_on_an_array_warns_as_scikit_learn(converted):
    X_path, y_path = converted
    model = StreamingRidge().fit(X_path, y_path)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.predict(np.load(X_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(X_path)
        model.predict(open_array(X_path)[:5])


def test_row_and_column_views_keep_their_names(converted):
    X_path, y_path = converted
    y = np.load(y_path)
    model = StreamingRidge().fit(open_array(X_path)[10:], y[10:])
    assert list(model.feature_names_in_) == NAMES
    model = StreamingRidge().fit(open_array(X_path)[:, [2, 0]], y)
    assert list(model.feature_names_in_) == ["c", "a"]
    reference = StreamingRidge().fit(np.load(X_path)[:, [2, 0]], y)
    assert_array_equal(model.coef_, reference.coef_)
    model = StreamingRidge().fit(open_array(X_path)[:, 1:3], y)
    assert list(model.feature_names_in_) == ["b", "c"]
    model = StreamingRidge().fit(open_array(X_path)[:, [True, False, True, True]], y)
    assert list(model.feature_names_in_) == ["a", "c", "flag"]


def test_mapped_view_has_no_names(converted):
    X_path, y_path = converted
    model = StreamingRidge().fit(open_array(X_path).map(lambda X: X * 2), y_path)
    assert not hasattr(model, "feature_names_in_")


def test_names_of_another_count_are_ignored(converted):
    X_path, y_path = converted
    with open(columns_path(X_path), "w") as f:
        json.dump({"columns": ["a", "b"], "target": "label"}, f)
    assert read_columns(X_path) is None
    assert read_columns(X_path, n_columns=2) == ["a", "b"]
    assert BatchSource(X_path).header is not None
    model = StreamingRidge().fit(X_path, y_path)
    assert not hasattr(model, "feature_names_in_")
    assert_array_equal(model.coef_, _reference(X_path, y_path).coef_)


def test_refit_without_names_forgets_them(converted):
    X_path, y_path = converted
    model = StreamingRidge().fit(X_path, y_path)
    os.remove(columns_path(X_path))
    assert read_columns(X_path) is None
    model.fit(X_path, y_path)
    assert not hasattr(model, "feature_names_in_")


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[1, 2]",
        '{"names": ["a", "b", "c", "flag"]}',
        '{"columns": ["a", "b", 3, "flag"]}',
        '{"columns": "abc"}',
        b"\xff\xfe\x00garbage",
    ],
    ids=["not-json", "a-list", "no-columns", "a-number", "a-string", "not-utf8"],
)
@pytest.mark.parametrize("opener", [str, open_array], ids=["path", "open_array"])
def test_malformed_names_file_is_a_clear_error(converted, content, opener):
    X_path, y_path = converted
    names_path = columns_path(X_path)
    model = StreamingRidge().fit(X_path, y_path)
    before = (model.coef_.copy(), model.intercept_, list(model.feature_names_in_))
    mode = "wb" if isinstance(content, bytes) else "w"
    with open(names_path, mode) as f:
        f.write(content)
    with pytest.raises(ValueError, match="column names file .*out_X.columns.json"):
        read_columns(X_path)
    with pytest.raises(ValueError, match="out_X.columns.json"):
        model.fit(opener(X_path), y_path)
    # The failed fit left the fitted model as it was.
    assert_array_equal(model.coef_, before[0])
    assert model.intercept_ == before[1]
    assert list(model.feature_names_in_) == before[2]
    # A new estimator stays unfitted.
    fresh = StreamingRidge()
    with pytest.raises(ValueError, match="out_X.columns.json"):
        fresh.fit(X_path, y_path)
    assert not hasattr(fresh, "coef_")


def test_columns_path_and_missing_names(tmp_path):
    assert columns_path("dir/out_X.npy") == "dir/out_X.columns.json"
    assert columns_path(tmp_path / "x.NPY") == str(tmp_path / "x.columns.json")
    X_path = str(tmp_path / "plain.npy")
    np.save(X_path, np.ones((4, 2)))
    assert read_columns(X_path) is None
    model = StreamingRidge().fit(X_path, np.ones(4))
    assert not hasattr(model, "feature_names_in_")


def test_convert_module_reuses_the_functions():
    from sklearn_ooc.io import _convert

    assert _convert.columns_path is columns_path
    assert _convert.read_columns is read_columns
