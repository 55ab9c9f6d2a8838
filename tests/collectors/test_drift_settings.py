"""[models.<name>.drift]: every key checked, overrides turned into the monitoring spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.drift_settings import ColumnSettings, DriftSettings, check_columns
from collectors.settings import SettingsError, load_settings
from storage.references import PREDICTION_COLUMN


def _load(tmp_path: Path, text: str) -> DriftSettings:
    path = tmp_path / "vigil.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, env={}).model("churn").drift


def test_defaults_without_a_drift_table(tmp_path: Path) -> None:
    drift = _load(tmp_path, "[models.churn]\n")
    assert drift == DriftSettings()
    assert drift.drift_share == 0.5 and drift.multivariate and drift.multivariate_threshold == 0.55


def test_a_full_table_is_read(tmp_path: Path) -> None:
    drift = _load(
        tmp_path,
        "[models.churn.drift]\ndrift_share = 0.3\nmultivariate = false\n"
        "multivariate_threshold = 0.6\n"
        '[models.churn.drift.features.income]\nmethod = "psi"\nthreshold = 0.2\nmin = 0\n'
        "max = 1e6\n"
        '[models.churn.drift.prediction]\nmethod = "jensenshannon"\n',
    )
    assert drift.drift_share == 0.3 and not drift.multivariate
    assert drift.multivariate_threshold == 0.6
    assert drift.columns["income"] == ColumnSettings("psi", 0.2, 0.0, 1e6)
    assert drift.prediction.method == "jensenshannon"


def test_spec_uses_the_schema_and_drops_methods_of_the_wrong_kind() -> None:
    drift = DriftSettings(
        columns={
            "income": ColumnSettings("psi", 0.2, 0.0, None),
            "region": ColumnSettings("ks"),  # ks is numeric-only: left out
            "gone": ColumnSettings("psi"),  # not a feature: left out
        },
        prediction=ColumnSettings(threshold=0.2),
    )
    spec = drift.spec({"income": "numeric", "region": "categorical"}, "binary")
    assert dict(spec.features) == {"income": "numeric", "region": "categorical"}
    assert spec.prediction_kind == "categorical" and spec.target_kind == "categorical"
    assert spec.overrides["income"] == ("psi", 0.2)
    assert "region" not in spec.overrides and "gone" not in spec.overrides
    assert spec.overrides[PREDICTION_COLUMN] == (None, 0.2)
    assert dict(spec.bounds) == {"income": (0.0, None)}
    assert drift.spec({"x": "numeric"}, "regression").prediction_kind == "numeric"
    problems = check_columns(drift, "churn", {"income": "numeric", "region": "categorical"})
    assert any("'ks' does not apply to the categorical feature 'region'" in p for p in problems)
    assert any("'gone' is not a feature" in p for p in problems)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[models.churn.drift]\nshare = 0.5\n",
            "unknown key 'share' in .*drift\\]; known: drift_share",
        ),
        ("[models.churn.drift]\ndrift_share = 0\n", "drift_share must be above 0 and at most 1"),
        ("[models.churn.drift]\ndrift_share = 50\n", "drift_share must be above 0 and at most 1"),
        ("[models.churn.drift]\ndrift_share = 'half'\n", "drift_share must be a finite number"),
        ("[models.churn.drift]\nmultivariate = 1\n", "multivariate must be true or false"),
        ("[models.churn.drift]\nmultivariate_threshold = 0.4\n", "ROC AUC above 0.5 and below 1"),
        (
            '[models.churn.drift.features.age]\nmethod = "kolmogorov"\n',
            r"\[models.churn.drift.features.age\] method 'kolmogorov' is unknown; use one of "
            "chisquare, jensenshannon, ks, psi, wasserstein, z",
        ),
        ("[models.churn.drift.features.age]\nthreshold = -1\n", "threshold must be positive"),
        ("[models.churn.drift.features.age]\nthreshold = nan\n", "threshold must be a finite"),
        ("[models.churn.drift.features.age]\nmin = 5\nmax = 1\n", "min 5 is above max 1"),
        ("[models.churn.drift.features.age]\nbins = 5\n", "unknown key 'bins'"),
        ("[models.churn.drift]\nfeatures = 3\n", "features must hold tables"),
        ('[models.churn.drift.target]\nmethod = "nope"\n', r"drift.target\] method 'nope'"),
    ],
)
def test_bad_drift_settings_are_refused_with_a_named_reason(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        _load(tmp_path, text)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("drift_interval_s", "0"),
        ("drift_lookback_days", "0"),
        ("drift_max_rows", "0"),
        ("max_reference_bytes", "-1"),
        ("evidently_max_rows", "0"),
    ],
)
def test_server_drift_settings_are_checked(tmp_path: Path, key: str, value: str) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text(f"[server]\n{key} = {value}\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=key):
        load_settings(path, env={})
