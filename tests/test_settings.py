"""Tests of the settings tables: defaults, .env, environment and overrides, in order."""

import pytest

from master_service.config import MASTER_SETTINGS
from settings import (
    Setting,
    SettingsError,
    describe_settings,
    load_settings,
    port_number,
    positive_float,
    positive_int,
)
from slave_service.config import SLAVE_SETTINGS

TABLE = (
    Setting("TEST_PORT", port_number, 5000, "port to listen on"),
    Setting("TEST_WORKERS", positive_int, 4, "worker processes"),
    Setting("TEST_TIMEOUT", positive_float, 45.0, "seconds per request"),
    Setting("TEST_NAME", str, "plain", "a name"),
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No setting of the tables below comes from the environment running the tests."""
    for setting in TABLE + MASTER_SETTINGS + SLAVE_SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)


def write_env_file(tmp_path, text: str):
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def test_defaults_without_env_file(tmp_path):
    """With nothing set, every setting has its default."""
    values = load_settings(TABLE, env_file=tmp_path / "missing.env")

    assert values == {
        "TEST_PORT": 5000,
        "TEST_WORKERS": 4,
        "TEST_TIMEOUT": 45.0,
        "TEST_NAME": "plain",
    }


def test_master_defaults():
    """The master's table gives the documented defaults."""
    values = load_settings(MASTER_SETTINGS, env_file=None)

    assert values == {
        "MASTER_HOST": "0.0.0.0",
        "MASTER_PORT": 5000,
        "RESULTS_DIR": "processed_results",
        "SLAVE_TIMEOUT": 45.0,
        "HEARTBEAT_TIMEOUT": 15.0,
        "MAX_ATTEMPTS": 3,
        "MAX_UPLOAD_MB": 1024,
        "MAX_FILES": 5000,
        "MASTER_THREADS": 32,
        "CLUSTER_TOKEN": None,
        "API_TOKEN": None,
        "LOG_LEVEL": "INFO",
    }


def test_env_file_values_are_parsed(tmp_path):
    """Values in the .env file are read and converted to the setting's type."""
    env_file = write_env_file(
        tmp_path,
        'TEST_PORT=6001\nTEST_TIMEOUT=2.5\n# a comment\nTEST_NAME="two words"\n',
    )

    values = load_settings(TABLE, env_file=env_file)

    assert values == {
        "TEST_PORT": 6001,
        "TEST_WORKERS": 4,
        "TEST_TIMEOUT": 2.5,
        "TEST_NAME": "two words",
    }


def test_environment_wins_over_env_file(tmp_path, monkeypatch):
    """A real environment variable beats the same name in the .env file."""
    env_file = write_env_file(tmp_path, "TEST_PORT=6001\nTEST_WORKERS=2\n")
    monkeypatch.setenv("TEST_PORT", "7002")

    values = load_settings(TABLE, env_file=env_file)

    assert values["TEST_PORT"] == 7002
    assert values["TEST_WORKERS"] == 2


def test_overrides_win_over_environment_and_env_file(tmp_path, monkeypatch):
    """Overrides beat both the environment and the .env file, and are used as given."""
    env_file = write_env_file(tmp_path, "TEST_PORT=6001\n")
    monkeypatch.setenv("TEST_PORT", "7002")

    values = load_settings(TABLE, overrides={"TEST_PORT": 8003}, env_file=env_file)

    assert values["TEST_PORT"] == 8003


def test_default_env_file_is_read_from_working_directory(tmp_path, monkeypatch):
    """Without env_file, `.env` in the working directory is read."""
    write_env_file(tmp_path, "TEST_WORKERS=9\n")
    monkeypatch.chdir(tmp_path)

    assert load_settings(TABLE)["TEST_WORKERS"] == 9


@pytest.mark.parametrize(
    "name, raw, detail",
    [
        ("TEST_PORT", "70000", "must be between 0 and 65535"),
        ("TEST_PORT", "http", "invalid literal for int() with base 10: 'http'"),
        ("TEST_WORKERS", "0", "must be 1 or more"),
        ("TEST_WORKERS", "2.5", "invalid literal for int() with base 10: '2.5'"),
        ("TEST_TIMEOUT", "-1", "must be more than 0"),
        ("TEST_TIMEOUT", "nan", "must be more than 0"),
        ("TEST_TIMEOUT", "soon", "could not convert string to float: 'soon'"),
    ],
)
def test_bad_value_raises_naming_the_variable(monkeypatch, name, raw, detail):
    """A value of the wrong type or range raises SettingsError naming the variable."""
    monkeypatch.setenv(name, raw)

    with pytest.raises(SettingsError) as raised:
        load_settings(TABLE, env_file=None)

    assert str(raised.value).startswith(f"{name}={raw!r} is not valid (")
    assert str(raised.value).endswith(f"): {detail}")


def test_bad_value_in_env_file_raises_naming_the_variable(tmp_path):
    """A bad .env value is reported with the variable and the setting's help."""
    env_file = write_env_file(tmp_path, "TEST_WORKERS=many\n")

    with pytest.raises(SettingsError) as raised:
        load_settings(TABLE, env_file=env_file)

    assert str(raised.value) == (
        "TEST_WORKERS='many' is not valid (worker processes): "
        "invalid literal for int() with base 10: 'many'"
    )


def test_unknown_override_is_rejected():
    """An override key the table does not know raises SettingsError naming it."""
    with pytest.raises(SettingsError) as raised:
        load_settings(TABLE, overrides={"TEST_PORT": 1, "TEST_PROT": 2, "OTHER": 3})

    assert str(raised.value) == "unknown setting(s) OTHER, TEST_PROT"


def test_empty_value_means_default(tmp_path, monkeypatch):
    """An empty value, in the environment or the .env file, gives the default."""
    env_file = write_env_file(tmp_path, "TEST_WORKERS=\nTEST_TIMEOUT\n")
    monkeypatch.setenv("TEST_PORT", "")

    values = load_settings(TABLE, env_file=env_file)

    assert values["TEST_PORT"] == 5000
    assert values["TEST_WORKERS"] == 4
    assert values["TEST_TIMEOUT"] == 45.0


def test_slave_task_types_are_checked(monkeypatch):
    """SLAVE_TASK_TYPES is split on commas and unknown names are refused."""
    monkeypatch.setenv("SLAVE_TASK_TYPES", " ocr, text ,")
    assert load_settings(SLAVE_SETTINGS, env_file=None)["SLAVE_TASK_TYPES"] == (
        "ocr",
        "text",
    )

    monkeypatch.setenv("SLAVE_TASK_TYPES", "ocr,pdf")
    with pytest.raises(SettingsError) as raised:
        load_settings(SLAVE_SETTINGS, env_file=None)
    assert str(raised.value).startswith("SLAVE_TASK_TYPES='ocr,pdf' is not valid")
    assert "unknown task type 'pdf'; choose one of: image, text" in str(raised.value)


def test_log_level_is_upper_cased(monkeypatch):
    """LOG_LEVEL is taken in any case."""
    monkeypatch.setenv("LOG_LEVEL", "debug")

    assert load_settings(MASTER_SETTINGS, env_file=None)["LOG_LEVEL"] == "DEBUG"


def test_describe_settings_lists_each_setting():
    """The help text has one line per setting with its help and default."""
    lines = describe_settings(TABLE).splitlines()

    assert lines == [
        "  TEST_PORT            port to listen on (default: 5000)",
        "  TEST_WORKERS         worker processes (default: 4)",
        "  TEST_TIMEOUT         seconds per request (default: 45.0)",
        "  TEST_NAME            a name (default: plain)",
    ]


@pytest.mark.parametrize(
    "value, reason",
    [
        ("short-token", "use at least 16 characters"),
        ("a token with spaces in it", "use printable ASCII without spaces"),
        ("jeton-sécurisé-très-long", "use printable ASCII without spaces"),
    ],
)
def test_weak_or_unsendable_tokens_are_refused(monkeypatch, value, reason):
    """A token must resist guessing and fit in an HTTP header."""
    monkeypatch.setenv("CLUSTER_TOKEN", value)
    with pytest.raises(SettingsError) as raised:
        load_settings(MASTER_SETTINGS, env_file=None)
    assert str(raised.value).startswith("CLUSTER_TOKEN (its value not shown) is not")
    assert reason in str(raised.value)
    assert value not in str(raised.value)


def test_a_strong_token_is_taken_as_it_is(monkeypatch):
    """A generated token passes unchanged, for both services."""
    token = "Zk3q9J2vXb8mN1pQ4rT7wY0uE5iO6aS-_"
    monkeypatch.setenv("CLUSTER_TOKEN", token)
    monkeypatch.setenv("API_TOKEN", token[::-1])
    master = load_settings(MASTER_SETTINGS, env_file=None)
    assert (master["CLUSTER_TOKEN"], master["API_TOKEN"]) == (token, token[::-1])
    assert load_settings(SLAVE_SETTINGS, env_file=None)["CLUSTER_TOKEN"] == token
