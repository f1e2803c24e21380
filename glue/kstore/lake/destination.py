"""Where the lake lives, behind one interface: a local folder (file://) or an S3 prefix (s3://).

Object keys are relative to the lake root (`raw/trades/dt=2025-01-01/hour=3/…parquet`), so
the manifest does not care where the lake is. DuckDB reads and writes both kinds the same way
(`uri(key)`: a path, or s3://bucket/prefix/key through httpfs); boto3 does what DuckDB cannot
(buckets, lifecycle rules, listing folders). Credentials: the settings' keys (environment only),
else whatever boto3 finds (environment, profile, instance role), handed to DuckDB as a secret.

DuckDB never downloads extensions here: the pinned duckdb-extension-* packages provide them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import duckdb
import duckdb_extensions

from kstore.settings import LakeSettings, Settings, SettingsError, lake_url


def sql_literal(value: str) -> str:
    """A DuckDB string literal (for statements that take no parameters: ATTACH, SECRET)."""
    return "'" + str(value).replace("'", "''") + "'"


def load_extensions(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Load bundled extensions, never from the network."""
    con.execute("set autoinstall_known_extensions = false")
    con.execute("set autoload_known_extensions = false")
    for name in names:
        duckdb_extensions.import_extension(name, con=con)
        con.execute(f"load {name}")


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Another connection to `con`'s database (its tables, attachments, secrets and global
    settings), for a second thread; its session pinned to UTC like `Destination.connect`'s."""
    other = con.cursor()
    other.execute("set TimeZone = 'UTC'")
    return other


class LakeUnreachable(SettingsError):
    """The lake root itself is missing or cannot be listed (a wrong lake.url, an unmounted
    folder, a missing bucket): nothing can be said about any object in it (decision 0087)."""


class Destination:
    """A lake root. Subclasses: LocalLake (file://) and S3Lake (s3://)."""

    url: str

    def holds_objects(self) -> bool:
        """Whether the root holds any object at all; LakeUnreachable when the root itself is
        missing or cannot be listed. One stat and a short walk, or one LIST request."""
        raise NotImplementedError

    def uri(self, key: str) -> str:
        """What DuckDB reads or writes for the object `key`."""
        raise NotImplementedError

    def prepare(self, key: str) -> None:
        """Make `key` writable by DuckDB (local folders); nothing to do on S3."""

    def keys(self, prefix: str) -> list[str]:
        """Every object key under `prefix` (relative to the root), sorted."""
        raise NotImplementedError

    def folders(self, prefix: str) -> list[str]:
        """The names of the folders directly under `prefix` (e.g. the models of aggregates/)."""
        raise NotImplementedError

    def first_key(self, prefix: str) -> str | None:
        """Some Parquet object under `prefix` (its key), or None when there is none yet."""
        raise NotImplementedError

    def remove(self, key: str) -> None:
        raise NotImplementedError

    def configure(self, con: duckdb.DuckDBPyConnection) -> None:
        """Give a DuckDB connection access to this lake (S3: a scoped secret)."""

    def connect(self, threads: int | None = None) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection that can read and write this lake, in UTC, with no read cache
        (a read-back must see the object as stored, not what this process wrote)."""
        con = duckdb.connect()
        load_extensions(con, "httpfs")
        con.execute("set TimeZone = 'UTC'")
        con.execute("set enable_external_file_cache = false")
        if threads:
            con.execute(f"set threads = {int(threads)}")
        self.configure(con)
        return con


@dataclass
class LocalLake(Destination):
    url: str
    root: Path = field(init=False)

    def __post_init__(self) -> None:
        parsed = urlparse(self.url)
        host = "" if parsed.netloc in ("", "localhost") else parsed.netloc
        self.root = Path(host + parsed.path).resolve()

    def uri(self, key: str) -> str:
        return str(self.root / key)

    def holds_objects(self) -> bool:
        if not self.root.is_dir():
            raise LakeUnreachable(f"the lake root {self.url} does not exist (check lake.url)")
        try:
            return any(path.is_file() and not path.name.endswith(".tmp")
                       for path in self.root.rglob("*"))
        except OSError as exc:
            raise LakeUnreachable(f"the lake root {self.url} cannot be read "
                                  f"({exc.strerror or exc})") from None

    def prepare(self, key: str) -> None:
        (self.root / key).parent.mkdir(parents=True, exist_ok=True)

    def keys(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted(str(path.relative_to(self.root)) for path in base.rglob("*")
                      if path.is_file() and not path.name.endswith(".tmp"))

    def folders(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted(path.name for path in base.iterdir() if path.is_dir())

    def first_key(self, prefix: str) -> str | None:
        base = self.root / prefix
        found = next((path for path in base.rglob("*.parquet") if path.is_file()), None) \
            if base.is_dir() else None
        return str(found.relative_to(self.root)) if found else None

    def remove(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def remove_all(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class S3Lake(Destination):
    url: str
    settings: LakeSettings
    bucket: str = field(init=False)
    prefix: str = field(init=False)
    _client: object = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        parsed = urlparse(self.url)
        if not parsed.netloc:
            raise SettingsError(f"lake url {self.url!r}: expected s3://bucket[/prefix]")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/") + "/" if parsed.path.strip("/") else ""

    def object_key(self, key: str) -> str:
        """The key inside the bucket (the lake's prefix + the lake-relative key)."""
        return self.prefix + key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"

    @property
    def client(self):
        """boto3's S3 client for this lake (endpoint, region, addressing style, keys)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            style = "path" if self.settings.s3_url_style == "path" else "virtual"
            self._client = boto3.client(
                "s3", endpoint_url=self._endpoint_url(), region_name=self.settings.s3_region,
                aws_access_key_id=self.settings.s3_access_key_id,
                aws_secret_access_key=self.settings.s3_secret_access_key,
                config=Config(s3={"addressing_style": style}, retries={"max_attempts": 5}),
            )
        return self._client

    def _endpoint_url(self) -> str | None:
        endpoint = self.settings.s3_endpoint
        if not endpoint:
            return None
        if "://" in endpoint:
            return endpoint
        return f"{'https' if self.settings.s3_use_ssl else 'http'}://{endpoint}"

    def _pages(self, prefix: str, **extra):
        paginator = self.client.get_paginator("list_objects_v2")
        yield from paginator.paginate(Bucket=self.bucket, Prefix=self.object_key(prefix), **extra)

    def holds_objects(self) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket", "404"):
                raise LakeUnreachable(f"the lake bucket s3://{self.bucket} does not exist "
                                      "(check lake.url)") from None
            raise LakeUnreachable(f"the lake root {self.url} cannot be listed ({code or exc}; "
                                  "check lake.url and the S3 credentials)") from None
        except BotoCoreError as exc:
            raise LakeUnreachable(f"the lake root {self.url} cannot be reached ({exc})") from None
        return bool(page.get("Contents"))

    def keys(self, prefix: str) -> list[str]:
        return sorted(item["Key"][len(self.prefix):] for page in self._pages(prefix)
                      for item in page.get("Contents", []))

    def folders(self, prefix: str) -> list[str]:
        base = self.object_key(prefix.rstrip("/") + "/")
        found = [common["Prefix"][len(base):].rstrip("/")
                 for page in self._pages(prefix.rstrip("/") + "/", Delimiter="/")
                 for common in page.get("CommonPrefixes", [])]
        return sorted(name for name in found if name)

    def first_key(self, prefix: str) -> str | None:
        page = self.client.list_objects_v2(
            Bucket=self.bucket, Prefix=self.object_key(prefix.rstrip("/") + "/"), MaxKeys=1)
        contents = page.get("Contents", [])
        return contents[0]["Key"][len(self.prefix):] if contents else None

    def remove(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def configure(self, con: duckdb.DuckDBPyConnection) -> None:
        options = {"region": self.settings.s3_region, "url_style": self.settings.s3_url_style,
                   "use_ssl": self.settings.s3_use_ssl, "scope": f"s3://{self.bucket}"}
        endpoint = self.settings.s3_endpoint
        if endpoint:
            options["endpoint"] = endpoint.split("://", 1)[-1]
        options |= self._credentials()
        rendered = ", ".join(
            f"{name} {str(value).lower() if isinstance(value, bool) else sql_literal(value)}"
            for name, value in options.items())
        con.execute(f"create or replace secret kstore_lake (type s3, {rendered})")

    def _credentials(self) -> dict[str, str]:
        """The settings' keys, else the ones boto3 resolves (env, profile, instance role)."""
        if self.settings.s3_access_key_id and self.settings.s3_secret_access_key:
            return {"key_id": self.settings.s3_access_key_id,
                    "secret": self.settings.s3_secret_access_key}
        import boto3

        found = boto3.Session().get_credentials()
        if found is None:
            return {}
        frozen = found.get_frozen_credentials()
        chosen = {"key_id": frozen.access_key, "secret": frozen.secret_key}
        return chosen | ({"session_token": frozen.token} if frozen.token else {})


def open_lake(settings: Settings) -> Destination:
    """The lake of these settings: lake.url (file://… or s3://…), default <home>/lake."""
    url = lake_url(settings)
    scheme = urlparse(url).scheme
    if scheme == "file":
        return LocalLake(url)
    if scheme == "s3":
        return S3Lake(url, settings.lake)
    raise SettingsError(f"lake url {url!r}: use file:///path or s3://bucket/prefix")
