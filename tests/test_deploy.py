"""deploy/ and docs/deploy.md against the real thing: the systemd units pass `systemd-analyze
verify` (where it exists), every `kstore …` command line they and the guide contain parses with
the real CLI, and every setting the example files name is a real setting that reaches its field.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from kstore import cli
from kstore.settings import Settings, load

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPLOY = REPO_ROOT / "deploy"
UNITS = DEPLOY / "systemd"
GUIDE = REPO_ROOT / "docs" / "deploy.md"
TOML = DEPLOY / "kstore.toml"
ENV_EXAMPLE = DEPLOY / "kstore.env.example"
INSTALLED_KSTORE = "/opt/kstore/.venv/bin/kstore"
# The instances the guide enables, per template unit.
INSTANCES = {"kstore-gather@": ["g1"], "kstore-maintain@": ["gatherer", "production"]}
SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "2>", "2>&1", "<"}


def instances_of(path: Path) -> list[str | None]:
    """The instances a unit file runs as: those of INSTANCES for a template, else itself."""
    if "@." not in path.name:
        return [None]
    return INSTANCES[path.name.split("@")[0] + "@"]


def unit_names() -> list[str]:
    """Every unit of deploy/systemd as systemd would load it (templates as their instances)."""
    return [path.name.replace("@.", f"@{instance}.") if instance else path.name
            for path in sorted(UNITS.iterdir()) for instance in instances_of(path)]


# ---------------------------------------------------------------- systemd units

def test_units_exist():
    names = {path.name for path in UNITS.iterdir()}
    assert {"kstore-gather@.service", "kstore-dedup.service", "kstore-export.service",
            "kstore-maintain@.service", "kstore-maintain@.timer", "kstore-transform.service",
            "kstore-transform.timer"} <= names


@pytest.mark.parametrize("unit", unit_names())
def test_unit_passes_systemd_analyze_verify(unit, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        reason = "systemd-analyze is not installed here (Debian package systemd)"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    kstore = Path(sys.executable).parent / "kstore"
    if not kstore.is_file():
        pytest.skip(f"no kstore executable beside {sys.executable} to stand in for "
                    f"{INSTALLED_KSTORE}")
    for path in UNITS.iterdir():  # verify checks ExecStart's binary exists: use this one
        text = path.read_text().replace(INSTALLED_KSTORE, str(kstore))
        (tmp_path / path.name).write_text(text)
    done = subprocess.run([analyze, "verify", str(tmp_path / unit)], capture_output=True,
                          text=True, timeout=60)
    ours = [line for line in (done.stdout + done.stderr).splitlines()
            if str(tmp_path) in line or "kstore" in line]
    assert done.returncode == 0 and not ours, done.stdout + done.stderr


def _sections(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(path.read_text())
    return parser


@pytest.mark.parametrize("path", sorted(UNITS.glob("*.service")), ids=lambda p: p.name)
def test_service_reads_one_settings_file_and_runs_hardened(path):
    service = _sections(path)["Service"]
    assert f"{INSTALLED_KSTORE} --config /etc/kstore/kstore.toml " in service["ExecStart"]
    assert service["EnvironmentFile"] == "/etc/kstore/kstore.env"
    assert service["User"] == "kstore"
    assert "PGUSER=kstore_" in service["Environment"]
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict",
                       "PrivateTmp": "yes", "ReadWritePaths": "/var/lib/kstore"}.items():
        assert service.get(key) == value, f"{path.name}: {key}"
    if service["Type"] == "simple":
        assert service["Restart"] == "on-failure"


# ---------------------------------------------------------------- kstore command lines

def _argv(words: list[str]) -> list[str]:
    """The kstore arguments up to the first shell operator, `--config X` removed."""
    argv: list[str] = []
    for word in words:
        if word in SHELL_OPERATORS or word.startswith(("#", ">", "2>")):
            break
        argv.append(word)
    if "--config" in argv:
        at = argv.index("--config")
        del argv[at:at + 2]
    return argv


def deploy_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of every installed-kstore invocation in deploy/, instances filled in."""
    found = []
    for path in sorted(p for p in DEPLOY.rglob("*") if p.is_file()):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = re.search(re.escape(INSTALLED_KSTORE) + r"\s+(.*)$", line)
            if not match:
                continue
            for instance in instances_of(path) if "%i" in line else [None]:
                text = match.group(1).replace("%i", instance) if instance else match.group(1)
                found.append((f"{path.name}:{number}", _argv(shlex.split(text))))
    return found


def guide_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of every `kstore …` line in the guide's shell blocks (after `sudo -u X`
    and VAR=value assignments)."""
    found, in_block = [], False
    for number, line in enumerate(GUIDE.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_block = not in_block and line.strip() in ("```sh", "```shell", "```bash")
            continue
        if not in_block:
            continue
        words = shlex.split(line, comments=True)
        if words[:2] == ["sudo", "-u"]:
            words = words[3:]
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            words = words[1:]
        if words and (words[0] == "kstore" or words[0].endswith("/bin/kstore")):
            found.append((f"deploy.md:{number}", _argv(words[1:])))
    return found


def test_command_lines_were_found():
    sources = {where.split(":")[0] for where, _ in deploy_commands()}
    assert {"kstore-gather@.service", "kstore-dedup.service", "kstore-export.service",
            "kstore-maintain@.service", "kstore-transform.service", "kstore.cron"} <= sources
    assert len(guide_commands()) >= 10


@pytest.mark.parametrize("where, argv", deploy_commands() + guide_commands(),
                         ids=lambda value: value if isinstance(value, str) else None)
def test_command_line_parses_with_the_real_cli(where, argv, tmp_path, capsys):
    """Parsing succeeds, then the absent settings file stops it before anything runs."""
    absent = tmp_path / "absent.toml"
    try:
        code = cli.main(["--config", str(absent), *argv])
    except SystemExit as exc:  # argparse refused the arguments
        code = exc.code
    err = capsys.readouterr().err
    assert code == 1 and "does not exist" in err, f"{where}: kstore {shlex.join(argv)}: {err}"


# ---------------------------------------------------------------- example settings

def _unknown_keys(values: dict, model: type[BaseModel], prefix: str = "") -> list[str]:
    unknown = []
    for key, value in values.items():
        field = model.model_fields.get(key)
        if field is None:
            unknown.append(prefix + key)
        elif isinstance(value, dict) and isinstance(field.annotation, type) \
                and issubclass(field.annotation, BaseModel):
            unknown += _unknown_keys(value, field.annotation, f"{prefix}{key}.")
    return unknown


def test_example_toml_loads_and_names_only_real_settings():
    values = tomllib.loads(TOML.read_text())
    assert _unknown_keys(values, Settings) == []
    settings = load(TOML)
    assert settings.lake.url == values["lake"]["url"]
    assert settings.kalshi.ws_url.startswith("wss://")


def env_assignments() -> list[tuple[str, str]]:
    """Every KSTORE_ assignment of the example, active or commented out."""
    found = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s*(KSTORE_[A-Z0-9_]+)=(.*)$", line)
        if match:
            found.append((match.group(1), shlex.split(match.group(2))[0]))
    return found


def _value_at(settings: Settings, name: str):
    """The settings value a KSTORE_A__B variable sets: attribute a, then attribute or key b."""
    value = settings
    for part in name.removeprefix("KSTORE_").lower().split("__"):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


@pytest.mark.parametrize("name, value", env_assignments(), ids=lambda v: v if v.startswith(
    "KSTORE_") else None)
def test_example_env_names_a_real_setting(name, value, monkeypatch):
    for variable in [v for v in os.environ if v.startswith("KSTORE_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv(name, value)
    got = _value_at(load(TOML), name)
    expected = json.loads(value) if value.startswith("[") else value
    assert (str(got) if isinstance(got, Path) else got) == expected


def test_example_env_holds_no_secret():
    text = ENV_EXAMPLE.read_text()
    assert "PRIVATE KEY" not in text
    assert all("password=" not in value for _, value in env_assignments())
    assert {value for name, value in env_assignments()
            if "PASSWORD" in name or "SECRET" in name or name.endswith("KEY_ID")} == {"change-me"}
