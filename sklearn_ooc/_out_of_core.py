"""``out_of_core(estimator)``: scikit-learn code, converted once.

One registry maps each scikit-learn class to the class of ours that fits
the same model out of core; each estimator module fills it as it is
imported (:func:`register`). :func:`out_of_core` walks an estimator, a
:class:`~sklearn.pipeline.Pipeline`, a
:class:`~sklearn.compose.ColumnTransformer` or a search
(:class:`~sklearn.model_selection.GridSearchCV`,
:class:`~sklearn.model_selection.RandomizedSearchCV`) and replaces each
step by its counterpart with the same parameters, or raises naming the
step and the parameter that has no exact out-of-core equivalent.
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import InvalidParameterError

__all__ = ["out_of_core", "register"]

# scikit-learn class -> (our class, converter of its parameters or None)
_REGISTRY: dict = {}

# Subpackages whose modules register their counterparts when imported.
_ESTIMATOR_PACKAGES = (
    "cluster",
    "compose",
    "covariance",
    "cross_decomposition",
    "decomposition",
    "discriminant_analysis",
    "feature_selection",
    "hmm",
    "kernel_ridge",
    "linear_model",
    "mixture",
    "naive_bayes",
    "preprocessing",
)

# Transformers whose partial_fit, batch after batch, learns what fit learns
# from all the rows (counts, sums, extremes), and stateless ones:
# StreamingTransformer fits them in one pass and applies them lazily.
_STREAMED_TRANSFORMERS = {
    "StandardScaler",
    "MinMaxScaler",
    "MaxAbsScaler",
    "FunctionTransformer",
    "Normalizer",
    "Binarizer",
}

# Transformers whose fitted state is a function of the number (and names) of
# the columns alone, never of the values (PolynomialFeatures: the powers of
# every output term): StreamingTransformer fits them on the first batch,
# which has every column, after checking every row as their fit does.
_COLUMN_FITTED_TRANSFORMERS = {
    "PolynomialFeatures",
}


def register(sklearn_class, convert=None):
    """Class decorator: ours fits the model ``sklearn_class`` fits, out of core.

    Parameters
    ----------
    sklearn_class : type
        The scikit-learn estimator class that ours replaces.
    convert : callable, default=None
        ``convert(params) -> params``: the scikit-learn estimator's
        parameters (``get_params(deep=False)``) made ours, for the names or
        values that differ; it raises ``ValueError`` for a value that has no
        exact out-of-core equivalent. Every other parameter is passed under
        its own name, or dropped when ours has no such parameter and the
        value is scikit-learn's default.

    Returns
    -------
    decorator : callable
        Registers and returns the class it decorates.
    """

    def decorate(cls):
        _REGISTRY[sklearn_class] = (cls, convert)
        return cls

    return decorate


def _load_registry():
    for name in _ESTIMATOR_PACKAGES:
        importlib.import_module(f"sklearn_ooc.{name}")


def _defaults(cls):
    signature = inspect.signature(cls.__init__)
    return {
        name: p.default
        for name, p in signature.parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def _same(a, b):
    if isinstance(a, BaseEstimator) or isinstance(b, BaseEstimator):
        return a is b
    try:
        return bool(np.all(a == b)) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b


def _convert_registered(estimator, where):
    ours, convert = _REGISTRY[type(estimator)]
    params = estimator.get_params(deep=False)
    if convert is not None:
        try:
            params = convert(dict(params))
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    accepted = _defaults(ours)
    defaults = _defaults(type(estimator))
    kept = {}
    for name, value in params.items():
        if name in accepted:
            kept[name] = value
        elif name in defaults and _same(value, defaults[name]):
            continue
        else:
            raise ValueError(
                f"{where}: {type(estimator).__name__}({name}={value!r}) has no "
                f"exact out-of-core equivalent in {ours.__name__}, which has no "
                f"parameter {name!r}; leave it at its default "
                f"({defaults.get(name, 'none')!r}) or keep this step in memory"
            )
    converted = ours(**kept)
    try:
        converted._validate_params()
    except InvalidParameterError as error:
        raise ValueError(
            f"{where}: {str(error).rstrip('.')}: this value of "
            f"{type(estimator).__name__} has no "
            f"exact out-of-core equivalent in {ours.__name__}"
        ) from None
    return converted


def _convert(estimator, where):
    if estimator is None or isinstance(estimator, str):
        return estimator  # "passthrough", "drop", None
    kind = type(estimator)
    name = kind.__name__
    if name == "ColumnTransformer" and kind.__module__.startswith("sklearn."):
        return _column_transformer(estimator, where)
    if kind in _REGISTRY:
        return _convert_registered(estimator, where)
    if kind.__module__.startswith("sklearn_ooc."):
        return clone(estimator)
    if name == "Pipeline":
        return _pipeline(estimator, where)
    if name in ("GridSearchCV", "RandomizedSearchCV"):
        return _search(estimator, where)
    if (
        name in _STREAMED_TRANSFORMERS or name in _COLUMN_FITTED_TRANSFORMERS
    ) and kind.__module__.startswith("sklearn."):
        from .preprocessing import StreamingTransformer

        return StreamingTransformer(clone(estimator))
    raise ValueError(
        f"{where}: {name} has no exact out-of-core equivalent in sklearn_ooc; "
        "keep it out of the converted estimator, or wrap an estimator that "
        "has partial_fit in sklearn_ooc.Incremental yourself"
    )


def _pipeline(pipeline, where):
    params = pipeline.get_params(deep=False)
    params["steps"] = [
        (name, _convert(step, f"{where}, step {name!r}"))
        for name, step in pipeline.steps
    ]
    return type(pipeline)(**params)


def _column_transformer(transformer, where):
    """A ColumnTransformer as ours (registered by ``sklearn_ooc.compose``),
    around its converted transformers, with the same columns and parameters."""
    ours, _ = _REGISTRY[type(transformer)]
    params = transformer.get_params(deep=False)
    params["transformers"] = [
        (name, _convert(step, f"{where}, transformer {name!r}"), columns)
        for name, step, columns in transformer.transformers
    ]
    params["remainder"] = _convert(transformer.remainder, f"{where}, remainder")
    return ours(**params)


def _inner_name(converted, original):
    """The parameter through which a wrapper reaches the estimator it wraps."""
    if type(converted).__name__ == "StreamingTransformer" and (
        type(original).__name__ != "StreamingTransformer"
    ):
        return "transformer"
    return None


def _translate_key(original, converted, key):
    """``step__param`` of the original, as a parameter name of the converted."""
    parts = key.split("__")
    out = []
    for part in parts[:-1]:
        inner = _inner_name(converted, original)
        if inner is not None:
            out.append(inner)
            converted = converted.get_params()[inner]
        out.append(part)
        original = original.get_params()[part]
        converted = converted.get_params()[part]
    inner = _inner_name(converted, original)
    if inner is not None:
        out.append(inner)
    out.append(parts[-1])
    return "__".join(out)


def _grid_values(values, where):
    """A grid's list of candidates, its estimators converted."""
    if not isinstance(values, (list, tuple)):
        return values  # a distribution to draw from
    return [_convert(v, where) if isinstance(v, BaseEstimator) else v for v in values]


def _search(search, where):
    params = search.get_params(deep=False)
    original = params["estimator"]
    converted = _convert(original, f"{where}, estimator")
    params["estimator"] = converted
    grid_name = "param_grid" if "param_grid" in params else "param_distributions"
    grid = params[grid_name]
    grids = grid if isinstance(grid, list) else [grid]
    translated = [
        {
            _translate_key(original, converted, key): _grid_values(
                values, f"{where}, {grid_name}[{key!r}]"
            )
            for key, values in g.items()
        }
        for g in grids
    ]
    params[grid_name] = translated if isinstance(grid, list) else translated[0]
    return type(search)(**params)


def out_of_core(estimator):
    """The out-of-core equivalent of a scikit-learn estimator, step by step.

    Each estimator with a counterpart in sklearn_ooc is replaced by it, with
    the same parameters; a :class:`~sklearn.pipeline.Pipeline`, a
    :class:`~sklearn.compose.ColumnTransformer`, a
    :class:`~sklearn.model_selection.GridSearchCV` or
    :class:`~sklearn.model_selection.RandomizedSearchCV` is rebuilt around
    its converted steps (a search's grid names follow them); transformers
    that learn in one pass of ``partial_fit`` (scalers), learn nothing
    (``FunctionTransformer``) or only the number of columns
    (``PolynomialFeatures``) are wrapped in
    :class:`~sklearn_ooc.preprocessing.StreamingTransformer`. The result is
    unfitted, like :func:`sklearn.base.clone`.

    Parameters
    ----------
    estimator : estimator, Pipeline, ColumnTransformer or search
        The scikit-learn object to convert; it is not modified.

    Returns
    -------
    converted : estimator
        The out-of-core equivalent.

    Raises
    ------
    ValueError
        Naming the step (and the parameter) that has no exact out-of-core
        equivalent.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_ooc import out_of_core
    >>> model = out_of_core(make_pipeline(StandardScaler(), Ridge(alpha=3.0)))
    >>> [type(step).__name__ for _, step in model.steps]
    ['StreamingTransformer', 'StreamingRidge']
    >>> model.steps[1][1].alpha
    3.0
    """
    _load_registry()
    return _convert(estimator, type(estimator).__name__)
