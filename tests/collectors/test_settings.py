"""Settings: defaults < TOML [server] < environment < flags, each bad value named."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.settings import Settings, SettingsError, load_settings

TOKEN = "s3cret-token-0123456789"


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vigil.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    settings = load_settings(env={})
    assert settings == Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8501
    assert settings.db == Path("vigil-data/vigil.duckdb")
    assert settings.spool_dir == Path("vigil-data/spool")
    assert settings.api_token is None


def test_toml_server_table(tmp_path: Path) -> None:
    config = _toml(
        tmp_path,
        '[server]\nport = 9000\nhost = "0.0.0.0"\ndb = "/data/v.duckdb"\n'
        "raw_retention_days = 2\napi_token_hashes = ['abc']\n",
    )
    settings = load_settings(config, env={})
    assert settings.port == 9000
    assert settings.host == "0.0.0.0"
    assert settings.db == Path("/data/v.duckdb")
    assert settings.raw_retention_days == 2.0
    assert isinstance(settings.raw_retention_days, float)
    assert settings.api_token_hashes == ("abc",)


def test_an_unknown_table_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    # A typo such as [rule.x] for [rules.x] must not pass silently.
    config = _toml(tmp_path, "[rule.latency]\nmetric = 'count'\n")
    with pytest.raises(SettingsError, match=r"unknown table \[rule\] .*known: server, models"):
        load_settings(config, env={})


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = _toml(tmp_path, '[server]\ndb = "file.duckdb"\nport = 9000\n')
    env = {"VIGIL_DB": "/env/v.duckdb", "VIGIL_API_TOKEN": TOKEN, "VIGIL_PORT": "9100"}
    settings = load_settings(config, env=env)
    assert settings.db == Path("/env/v.duckdb")
    assert settings.api_token == TOKEN
    assert settings.port == 9100


def test_empty_environment_values_are_ignored(tmp_path: Path) -> None:
    config = _toml(tmp_path, '[server]\ndb = "file.duckdb"\n')
    assert load_settings(config, env={"VIGIL_DB": ""}).db == Path("file.duckdb")


def test_flags_override_the_environment(tmp_path: Path) -> None:
    config = _toml(tmp_path, "[server]\nport = 9000\n")
    settings = load_settings(
        config,
        env={"VIGIL_DB": "/env.duckdb", "VIGIL_PORT": "9100"},
        overrides={"db": Path("/flag.duckdb"), "port": 9200, "host": None},
    )
    assert settings.db == Path("/flag.duckdb")
    assert settings.port == 9200
    assert settings.host == "127.0.0.1"  # a None flag means "not given"


def test_unknown_key_names_the_known_ones(tmp_path: Path) -> None:
    config = _toml(tmp_path, "[server]\nprot = 9000\n")
    with pytest.raises(SettingsError) as info:
        load_settings(config, env={})
    message = str(info.value)
    assert "unknown setting 'prot'" in message
    assert str(config) in message
    for known in ("port", "host", "db", "api_token", "write_queue_size"):
        assert known in message


def test_unknown_flag_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="unknown setting 'colour'; known: api_token"):
        load_settings(env={}, overrides={"colour": "blue"})


@pytest.mark.parametrize(
    ("line", "setting"),
    [
        ('port = "eighty"', "port"),
        ("port = 80.5", "port"),
        ("port = true", "port"),
        ("host = 5", "host"),
        ('sample_interval_s = "fast"', "sample_interval_s"),
        ("sample_interval_s = nan", "sample_interval_s"),
        ("raw_retention_days = inf", "raw_retention_days"),
        ("write_queue_size = false", "write_queue_size"),
        ("api_token_hashes = 'abc'", "api_token_hashes"),
        ("api_token_hashes = [1]", "api_token_hashes"),
    ],
)
def test_bad_types_name_the_setting(tmp_path: Path, line: str, setting: str) -> None:
    with pytest.raises(SettingsError, match=f"setting '{setting}' must be"):
        load_settings(_toml(tmp_path, f"[server]\n{line}\n"), env={})


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("port = 0", "port 0 is out of range: use 1-65535"),
        ("port = 70000", "port 70000 is out of range"),
        ("sample_interval_s = 0.01", "sample_interval_s must be at least 0.1"),
        ("spool_interval_s = 0", "spool_interval_s must be at least 0.1"),
        ("raw_retention_days = 0", "raw_retention_days must be positive"),
        ("write_queue_size = -1", "write_queue_size must be positive"),
        ("max_body_bytes = 0", "max_body_bytes must be positive"),
        ('api_token = "short-but-a-secret"', "secrets stay out of config files"),
        ('api_token_hashes = "abc"', "api_token_hashes"),
    ],
)
def test_bad_ranges_name_the_setting(tmp_path: Path, line: str, text: str) -> None:
    with pytest.raises(SettingsError, match=text):
        load_settings(_toml(tmp_path, f"[server]\n{line}\n"), env={})


def test_bad_environment_value_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="setting 'port' must be int, got 'http'"):
        load_settings(env={"VIGIL_PORT": "http"})


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="is not valid TOML"):
        load_settings(_toml(tmp_path, "[server\nport = 1\n"), env={})
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", env={})
    with pytest.raises(SettingsError, match=r"\[server\] .* must be a table"):
        load_settings(_toml(tmp_path, 'server = "x"\n'), env={})


def test_repr_never_shows_the_token() -> None:
    settings = load_settings(env={"VIGIL_API_TOKEN": TOKEN})
    assert settings.api_token == TOKEN
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)
    assert "port=8501" in repr(settings)


def test_token_from_env_must_be_long_enough() -> None:
    with pytest.raises(SettingsError, match="at least 16 characters"):
        load_settings(env={"VIGIL_API_TOKEN": "short"})


def test_token_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("file-token-0123456789abcdef\n")
    settings = load_settings(env={"VIGIL_API_TOKEN_FILE": str(secret)})
    assert settings.api_token == "file-token-0123456789abcdef"
    assert "file-token" not in repr(settings)
    with pytest.raises(SettingsError, match="cannot be read"):
        load_settings(env={"VIGIL_API_TOKEN_FILE": str(tmp_path / "missing")})


def test_per_model_tables(tmp_path: Path) -> None:
    from collectors.settings import ModelSettings
    from monitoring.slo import Objective

    config = _toml(
        tmp_path,
        "[server]\nport = 9000\n\n[models.churn]\n"
        'objectives = ["accuracy >= 0.90", "latency_p95_ms <= 200", "f1 >= 0.8 @ version 2"]\n'
        "provisional_coverage = 0.5\nobjective_target = 0.99\n\n"
        '[models."fraud.v2"]\nobjectives = ["roc_auc > 0.85"]\n',
    )
    settings = load_settings(config, env={})
    churn = settings.models["churn"]
    assert churn.objectives == (
        Objective("accuracy", ">=", 0.9),
        Objective("latency_p95_ms", "<=", 200.0),
        Objective("f1", ">=", 0.8, "2"),
    )
    assert (churn.provisional_coverage, churn.objective_target) == (0.5, 0.99)
    fraud = settings.model("fraud.v2")
    assert fraud.objectives == (Objective("roc_auc", ">", 0.85),)
    assert (fraud.provisional_coverage, fraud.objective_target) == (0.8, 0.95)  # defaults
    assert settings.model("unnamed") == ModelSettings()
    assert settings.port == 9000
    assert isinstance(hash(settings), int)  # the models dict stays out of the hash


def test_no_models_table_means_no_model_settings(tmp_path: Path) -> None:
    assert load_settings(_toml(tmp_path, "[server]\nport = 9000\n"), env={}).models == {}
    assert load_settings(env={}).models == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[models.churn]\nobjectives = ["accuracy >= 0.9", "acc >= 0.9"]\n',
            "[models.churn] objectives[1]: objective 'acc >= 0.9': unknown metric 'acc'; "
            "known: accuracy",
        ),
        (
            '[models.churn]\nobjectives = ["accuracy >= 90"]\n',
            "[models.churn] objectives[0]: objective 'accuracy >= 90': accuracy is a fraction",
        ),
        (
            '[models.churn]\nobjectives = "accuracy >= 0.9"\n',
            "objectives must be a list of strings",
        ),
        ("[models.churn]\nobjectives = [0.9]\n", "objectives must be a list of strings"),
        (
            '[models.churn]\nobjective = ["accuracy >= 0.9"]\n',
            "unknown key 'objective' in ",
        ),
        (
            '[models.churn]\nprovisional_coverage = "high"\n',
            "provisional_coverage must be a number",
        ),
        ("[models.churn]\nprovisional_coverage = true\n", "provisional_coverage must be a number"),
        ("[models.churn]\nprovisional_coverage = 1.5\n", "provisional_coverage must be between 0"),
        ("[models.churn]\nobjective_target = 1\n", "objective_target must be above 0 and below 1"),
        ("[models.churn]\nobjective_target = nan\n", "objective_target must be a number"),
        ('[models."bad name"]\nobjectives = []\n', "invalid model name 'bad name'"),
        ("[models]\nchurn = 1\n", "[models.churn] must be a table"),
        ('models = "churn"\n', "[models] in "),
        ('[server]\nmodels = "churn"\n', "unknown setting 'models'"),
    ],
)
def test_bad_model_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    config = _toml(tmp_path, text)
    with pytest.raises(SettingsError) as info:
        load_settings(config, env={})
    assert message in str(info.value)
    assert str(config) in str(info.value)


def test_unknown_model_key_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(_toml(tmp_path, "[models.churn]\ntarget = 0.9\n"), env={})
    for key in ("objectives", "provisional_coverage", "objective_target"):
        assert key in str(info.value)
