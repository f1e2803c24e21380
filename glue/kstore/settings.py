"""One typed settings object, read once at the edge (CLI) and passed down.

Sources, highest first: keyword arguments, `KSTORE_*` environment variables, the TOML file
(`kstore.toml` in the working directory, or the path in `KSTORE_CONFIG`), defaults.
Secrets (DSNs, keys) are accepted only from the environment.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FIELDS = ("dsn", "admin_dsn")


class SettingsError(ValueError):
    """Bad configuration: the CLI prints it as one line and exits non-zero."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KSTORE_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    home: Path = Field(Path(".kstore"), description="embedded topology, logs, local lake")
    timescaledb: Literal["auto", "on", "off"] = Field(
        "auto", description="off forces plain PostgreSQL (behave like RDS) even where it exists"
    )
    pg_bin: Path | None = Field(None, description="directory holding initdb/pg_ctl/postgres")
    gatherers: list[str] = Field(["g1", "g2", "g3"], description="gatherer ids")
    dsn: dict[str, str] = Field(
        {}, description="DSN per database, e.g. KSTORE_DSN__G1_TS, KSTORE_DSN__PRODUCTION"
    )
    repo_root: Path = Field(Path(__file__).resolve().parents[2], description="SQL files root")

    @field_validator("gatherers")
    @classmethod
    def _gatherer_ids(cls, value: list[str]) -> list[str]:
        for gid in value:
            if not gid.isidentifier() or gid.lower() != gid:
                raise ValueError(f"gatherer id {gid!r} must be a lower-case identifier")
        return value

    @field_validator("dsn")
    @classmethod
    def _dsn_keys(cls, value: dict[str, str]) -> dict[str, str]:
        return {key.lower(): dsn for key, dsn in value.items()}


def load(config: Path | None = None, **overrides) -> Settings:
    """Read the TOML file (if any) under the environment and `overrides`."""
    path = config or Path("kstore.toml")
    values: dict = {}
    if config is not None and not path.is_file():
        raise SettingsError(f"config file {path} does not exist")
    if path.is_file():
        try:
            values = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {path}: {exc}") from exc
        leaked = [key for key in SECRET_FIELDS if key in values]
        if leaked:
            raise SettingsError(
                f"config file {path} sets {', '.join(leaked)}: secrets come only from the "
                "environment (KSTORE_DSN__<NAME>)"
            )
    return _build(values, overrides)


class _EnvOverToml(Settings):
    """The TOML values enter as init arguments, below the environment."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, **_):
        return (env_settings, init_settings)


def _build(toml_values: dict, overrides: dict) -> Settings:
    try:
        merged = _EnvOverToml(**toml_values).model_dump()
        return Settings(**(merged | overrides))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise SettingsError(f"invalid setting {where}: {first['msg']}") from exc
