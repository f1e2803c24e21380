"""One settings object: TOML under environment under explicit overrides; secrets env-only."""

from __future__ import annotations

import os

import pytest

from conftest import kstore_env, run_kstore
from kstore.settings import SettingsError, load


def test_environment_beats_toml_and_overrides_beat_both(tmp_path, monkeypatch):
    config = tmp_path / "kstore.toml"
    config.write_text('home = "/srv/kstore"\ntimescaledb = "on"\ngatherers = ["a1", "a2"]\n')
    monkeypatch.setenv("KSTORE_TIMESCALEDB", "off")

    settings = load(config)
    assert (str(settings.home), settings.timescaledb, settings.gatherers) == (
        "/srv/kstore", "off", ["a1", "a2"])
    assert load(config, timescaledb="auto").timescaledb == "auto"


def test_dsns_come_only_from_the_environment(tmp_path, monkeypatch):
    config = tmp_path / "kstore.toml"
    config.write_text('[dsn]\nproduction = "host=db password=hunter2"\n')
    with pytest.raises(SettingsError, match="secrets come only from the environment"):
        load(config)
    monkeypatch.setenv("KSTORE_DSN__PRODUCTION", "host=db dbname=production")
    assert load().dsn == {"production": "host=db dbname=production"}


@pytest.mark.parametrize("env, message", [
    ({"KSTORE_TIMESCALEDB": "maybe"}, "invalid setting timescaledb"),
    ({"KSTORE_GATHERERS": '["G-1"]'}, "invalid setting gatherers"),
    ({"KSTORE_CONFIG": "/nonexistent/kstore.toml"}, "does not exist"),
    ({"KSTORE_GATHER__SELECTION__CATEGORIES": "Economics"},  # the variable itself is named
     "invalid setting gather: KSTORE_GATHER__SELECTION__CATEGORIES is not valid JSON"),
])
def test_bad_settings_give_one_line_and_a_non_zero_exit(env, message, tmp_path):
    result = run_kstore("db", "status", env=env | {"KSTORE_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.startswith("kstore: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_unknown_command_is_refused():
    result = run_kstore("migrate", "--target", "everything")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_no_inherited_kstore_variable_reaches_a_test_or_a_subprocess(monkeypatch):
    assert not [key for key in os.environ if key.startswith("KSTORE_")], \
        "the shell's KSTORE_* are cleared (try KSTORE_HOME=/tmp/elsewhere pytest)"
    monkeypatch.setenv("KSTORE_HOME", "/nonexistent/inherited")
    assert "KSTORE_HOME" not in kstore_env()
    assert kstore_env({"KSTORE_HOME": "/named"})["KSTORE_HOME"] == "/named"
