"""One typed settings object, read once at the edge (CLI) and passed down.

Sources, highest first: keyword arguments, `KSTORE_*` environment variables, the TOML file
(`kstore.toml` in the working directory, or the path in `KSTORE_CONFIG`), defaults.
Secrets (DSNs, keys) are accepted only from the environment.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

SECRET_FIELDS = ("dsn", "reader_password")
SECRET_KALSHI_FIELDS = ("key_id", "private_key")
SECRET_LAKE_FIELDS = ("s3_access_key_id", "s3_secret_access_key")


class SettingsError(ValueError):
    """Bad configuration: the CLI prints it as one line and exits non-zero."""


class KalshiSettings(BaseModel):
    """Where the exchange is. Defaults point at the local simulator (`kstore simulate`);
    Kalshi production is wss://external-api-ws.kalshi.com/trade-api/ws/v2 and
    https://external-api.kalshi.com/trade-api/v2. Key id and PEM only from the environment."""

    ws_url: str = "ws://127.0.0.1:8765/trade-api/ws/v2"
    rest_url: str = "http://127.0.0.1:8765/trade-api/v2"
    key_id: str | None = None
    private_key: str | None = Field(None, description="PEM text (KSTORE_KALSHI__PRIVATE_KEY)")
    private_key_file: Path | None = None


class GatherSettings(BaseModel):
    """How a gatherer captures: shards, feed settings, batching, budgets, timers."""

    markets_per_subscription: int = Field(200, ge=1, le=1000)
    use_yes_price: bool = Field(False, description="pinned price scale of the NO side")
    batch_rows: int = Field(100, ge=1, le=10_000)
    batch_delay: float = Field(0.05, gt=0, le=5)
    pool_size: int = Field(2, ge=1, le=3)
    queue_warn_rows: int = Field(200_000, ge=1000)
    snapshot_interval: float = Field(300, gt=0, description="seconds between REST book rounds")
    rest_rate: float = Field(20, gt=0, description="REST reads per second (Basic tier)")
    registry_interval: float = Field(60, gt=0, description="seconds between REST refreshes")
    silence_timeout: float = Field(30, gt=0, description="no frame for this long: reconnect")
    backoff_max: float = Field(60, gt=0)
    status_interval: float = Field(5, gt=0, description="seconds between status lines and "
                                   "heartbeats")
    shutdown_timeout: float = Field(15, gt=0, description="SIGTERM: exit within this many "
                                    "seconds, committing what the databases accept by then")
    stall_timeout: float = Field(60, gt=0, description="kstore up restarts a gatherer whose "
                                 "heartbeat is older than this")
    time_tolerance: float = Field(
        86_400, gt=0, description="seconds an exchange time may lie from the receive time; "
        "farther (or in seconds, not ms) is implausible: the frame is quarantined")


class LakeSettings(BaseModel):
    """Where the Parquet lake lives and how to reach it. `url` is file://… (default: the
    embedded <home>/lake) or s3://bucket/prefix; S3 keys only from the environment."""

    url: str | None = None
    s3_endpoint: str | None = Field(None, description="host:port of an S3-compatible server")
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_url_style: Literal["path", "vhost"] = "vhost"
    s3_use_ssl: bool = True
    glacier_class: Literal["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"] = Field(
        "GLACIER_IR", description="raw/ after 30 days; only GLACIER_IR stays readable in place")
    close_after: float = Field(
        60, ge=0, description="seconds a window's end must lie behind every gatherer's caught-up "
        "merge (clock skew + commit delay) before it is exported")


class FdwSettings(BaseModel):
    """TLS of the link production makes to each gatherer (postgres_fdw servers). Unset: as the
    servers are (the embedded topology has no TLS). For RDS or Timescale Cloud, where no CA file
    can be placed on the server, `require`; a self-hosted production: `verify-full` with the CA
    file on the database server (docs/deploy.md)."""

    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca",
                     "verify-full"] | None = None
    sslrootcert: str | None = Field(None, description="CA file path on the production server")


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
    reader_password: dict[str, str] = Field(
        {}, description="per gatherer, the kstore_gatherer_reader password the postgres_fdw "
        "mapping uses (KSTORE_READER_PASSWORD__G1); none: password_required false (embedded)"
    )
    repo_root: Path = Field(Path(__file__).resolve().parents[2], description="SQL files root")
    kalshi: KalshiSettings = KalshiSettings()
    lake: LakeSettings = LakeSettings()
    gather: GatherSettings = GatherSettings()
    fdw: FdwSettings = FdwSettings()

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
        leaked += [f"kalshi.{key}" for key in SECRET_KALSHI_FIELDS
                   if key in values.get("kalshi", {})]
        leaked += [f"lake.{key}" for key in SECRET_LAKE_FIELDS if key in values.get("lake", {})]
        if leaked:
            raise SettingsError(
                f"config file {path} sets {', '.join(leaked)}: secrets come only from the "
                "environment (KSTORE_DSN__<NAME>, KSTORE_KALSHI__KEY_ID, ...)"
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
    except SourceError as exc:  # a KSTORE_* variable that is not JSON where JSON is needed
        field = str(exc).split('"')[1] if str(exc).count('"') >= 2 else "settings"
        raise SettingsError(f"invalid setting {field}: KSTORE_{field.upper()} is not valid JSON "
                            "(a list or an object, e.g. '[\"g1\", \"g2\"]')") from None


def lake_url(settings: Settings) -> str:
    """The lake's root URL, without a trailing slash: the setting, else file://<home>/lake."""
    url = settings.lake.url or f"file://{(settings.home / 'lake').resolve()}"
    return url.rstrip("/")
