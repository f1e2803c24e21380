"""One typed settings object, read once at the edge (CLI) and passed down.

Sources, highest first: keyword arguments, `KSTORE_*` environment variables, the TOML file
(`kstore.toml` in the working directory, or the path in `KSTORE_CONFIG`), defaults.
Secrets (DSNs, keys) are accepted only from the environment.
"""

from __future__ import annotations

import json
import os
import tomllib
import typing
from datetime import datetime, timezone
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


def utc_time(text: str, what: str, example: str = "2025-06-10T12:00:00Z") -> datetime:
    """`text` as an ISO 8601 time, UTC when it names no offset; anything else is a
    SettingsError, `<what> '<text>' is not an ISO 8601 time (e.g. <example>)`, where `what` is
    the command and option (`reparse: --since`)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"{what} {text!r} is not an ISO 8601 time (e.g. {example})") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class KalshiSettings(BaseModel):
    """Where the exchange is. Defaults point at the local simulator (`kstore simulate`);
    Kalshi production is wss://external-api-ws.kalshi.com/trade-api/ws/v2 and
    https://external-api.kalshi.com/trade-api/v2. Key id and PEM only from the environment."""

    ws_url: str = "ws://127.0.0.1:8765/trade-api/ws/v2"
    rest_url: str = "http://127.0.0.1:8765/trade-api/v2"
    key_id: str | None = None
    private_key: str | None = Field(None, description="PEM text (KSTORE_KALSHI__PRIVATE_KEY)")
    private_key_file: Path | None = None


class SelectionSettings(BaseModel):
    """Which markets a gatherer captures (README "Choosing markets for the real exchange").

    Order books follow the selection: a market is selected when it matches every filter that
    is set (an empty list does not filter). Series, events and statuses are sent to the exchange
    as REST filters; categories select the series of those categories; ticker patterns are
    shell-style (`KXHIGHNY-*`). MVE (multivariate, parlay) markets are left out unless
    `include_mve`. `trade` and `ticker` follow the selection too unless `firehose` (every
    market, one subscription each)."""

    model_config = {"extra": "forbid"}

    series: list[str] = Field([], description="series tickers, e.g. KXHIGHNY")
    categories: list[str] = Field([], description="series categories, e.g. Economics")
    events: list[str] = Field([], description="event tickers")
    tickers: list[str] = Field([], description="market ticker patterns (fnmatch, upper case)")
    statuses: list[Literal["unopened", "open", "paused", "closed", "settled"]] = Field(
        ["unopened", "open", "paused"], min_length=1,
        description="REST status filters (a market that can still trade by default)")
    include_mve: bool = Field(False, description="also select multivariate (MVE) markets")
    max_books: int | None = Field(None, ge=1, description="refuse a selection of more books")
    firehose: bool = Field(True, description="trade and ticker for every market")


class JournalSettings(BaseModel):
    """The raw frame journal (decision 0035): every received frame under
    `<home>/journal/<gatherer>/` (or `directory`), on by default."""

    enabled: bool = True
    directory: Path | None = Field(None, description="root of the journals (default "
                                   "<home>/journal); one folder per gatherer below it")
    fsync: Literal["never", "interval", "always"] = Field(
        "interval", description="fsync the segment: never (the OS decides; survives a process "
        "crash, not a power loss), every flush_interval, or at every flush (each batch commit)")
    flush_interval: float = Field(1.0, gt=0, le=1, description="seconds between flushes (and "
                                  "watermark checkpoints); a flush also precedes every commit")
    level: int = Field(3, ge=1, le=19, description="zstd compression level")
    frame_mib: float = Field(8, gt=0, le=256, description="uncompressed MiB per independently "
                             "decodable zstd frame")
    lookback: float = Field(60, ge=0, description="seconds of frames re-read before a recovery "
                            "or reparse window to rebuild order-dependent state (dup ordinals)")


class GatherSettings(BaseModel):
    """How a gatherer captures: shards, feed settings, batching, budgets, timers."""

    selection: SelectionSettings = SelectionSettings()
    markets_per_subscription: int = Field(200, ge=1, le=1000, description="markets per "
                                          "order-book subscription (the exchange's cap: error 26)")
    connections: int = Field(1, ge=1, le=200, description="WebSocket connections per gatherer")
    subscriptions_per_connection: int = Field(
        200, ge=1, description="order-book subscriptions one connection carries at most")
    use_yes_price: bool = Field(False, description="pinned price scale of the NO side")
    batch_rows: int = Field(100, ge=1, le=10_000)
    batch_delay: float = Field(0.05, gt=0, le=5)
    pool_size: int = Field(2, ge=1, le=3)
    queue_warn_rows: int = Field(200_000, ge=1000)
    snapshot_interval: float = Field(300, gt=0, description="seconds between REST book rounds")
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
    journal: JournalSettings = JournalSettings()


# Kalshi's read budget per access tier (KALSHI-API.md §5.10: tokens per second / 10 per read).
TIER_READS = {"basic": 20, "advanced": 30, "premier": 100, "paragon": 200, "prime": 400}


class RestSettings(BaseModel):
    """The REST read budget of one process (registry, book polling, reconcile share it;
    decision 0065). Processes that share one API key must split the tier's budget between them
    with `reads_per_second`."""

    tier: Literal["basic", "advanced", "premier", "paragon", "prime"] = "basic"
    reads_per_second: float | None = Field(None, gt=0, description="overrides the tier's budget")
    headroom: float = Field(0.9, gt=0, le=1, description="share of the budget actually used")
    book_batch: int = Field(100, ge=1, le=100, description="tickers per GET /markets/orderbooks")
    book_share: float = Field(0.5, gt=0, le=1, description="share of the budget a book round "
                              "may take; a larger selection stretches the round, with a warning")

    def rate(self) -> float:
        """Reads per second this process sends at most."""
        return (self.reads_per_second or TIER_READS[self.tier]) * self.headroom


class ReconcileSettings(BaseModel):
    """`kstore reconcile` and its schedule in `kstore up` (decision 0066)."""

    interval: float = Field(3600, gt=0, description="seconds between scheduled runs in kstore up")
    lookback: float = Field(7200, gt=0, description="a scheduled run checks this many seconds")
    settle: float = Field(300, ge=0, description="seconds behind now a checked window ends: "
                          "time for the gatherers' rows to be merged")
    into: str | None = Field(None, description="gatherer that receives recovered trades "
                             "(default: the first reachable one)")


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
    scrub_interval: float = Field(
        3600, ge=0, description="seconds between the exporter's rolling scrub passes (kstore "
        "lake verify on the least recently verified objects); 0: no scrub")
    scrub_objects: int = Field(500, ge=1, description="objects read again per scrub pass")
    scrub_after: float = Field(
        86_400, gt=0, description="seconds after its last verification an object is due for "
        "the scrub; keep it well under production's verified_within (7 days), past which "
        "guarded retention keeps a partition until its windows are verified again")


class MetricsSettings(BaseModel):
    """Prometheus endpoints of the long-running components (docs/status.md). A port of 0 turns
    that component's endpoint off; gatherer i (its position in `gatherers`) listens on
    gather_port + i, so several gatherers can share a host."""

    enabled: bool = True
    host: str = Field("127.0.0.1", description="0.0.0.0 to let a Prometheus on another host in")
    gather_port: int = Field(9410, ge=0, le=65535)
    dedup_port: int = Field(9420, ge=0, le=65535)
    export_port: int = Field(9421, ge=0, le=65535)
    refresh_interval: float = Field(10, gt=0, description="seconds between reads of "
                                    "production's state (lag, gaps, lake) into gauges")


class StatusSettings(BaseModel):
    """When `kstore status` (and its gauges) call the system unhealthy; 0 turns a check off."""

    lag_max: float = Field(120, ge=0, description="seconds: merge lag of any gatherer/table")
    export_stale_max: float = Field(1800, ge=0, description="seconds since the end of the "
                                    "oldest closed lake window not yet verified")
    dedup_stale_max: float = Field(300, ge=0, description="seconds since the deduplicator's "
                                   "last pull of a reachable gatherer")
    gap_open_age: float = Field(600, ge=0, description="an open feed gap older than this "
                                "counts as not recovering")
    gaps_open_max: int = Field(0, ge=0, description="more open gaps older than gap_open_age: "
                               "unhealthy")


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
    metrics: MetricsSettings = MetricsSettings()
    status: StatusSettings = StatusSettings()
    rest: RestSettings = RestSettings()
    reconcile: ReconcileSettings = ReconcileSettings()
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
        variable = _not_json(field) or f"KSTORE_{field.upper()}"
        raise SettingsError(f"invalid setting {field}: {variable} is not valid JSON (a list or "
                            "an object, e.g. '[\"g1\", \"g2\"]' or '[\"Economics\"]')") from None


def _not_json(field: str) -> str | None:
    """The KSTORE_<FIELD>__… variable whose setting is a list or an object but whose value is
    not JSON (pydantic-settings names only the top-level field)."""
    prefix = f"KSTORE_{field.upper()}"
    for name in sorted(os.environ):
        if not name.upper().startswith(prefix):
            continue
        model, annotation = Settings, None
        for part in name[len("KSTORE_"):].lower().split("__"):
            found = getattr(model, "model_fields", {}).get(part)
            if found is None:
                break
            annotation, model = found.annotation, found.annotation
        else:
            if typing.get_origin(annotation) in (list, dict, set, tuple):
                try:
                    json.loads(os.environ[name])
                except ValueError:
                    return name
    return None


def lake_url(settings: Settings) -> str:
    """The lake's root URL, without a trailing slash: the setting, else file://<home>/lake."""
    url = settings.lake.url or f"file://{(settings.home / 'lake').resolve()}"
    return url.rstrip("/")
