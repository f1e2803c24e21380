"""Simulator options: one typed object, filled from argparse by the CLI or built by tests."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .faults import names_in
from .mutations import mutation_names

DEFAULT_PORT = 8765
FAULTS = ("gaps", "disconnects", "duplicates", "malformed", "slow", "fuzz")


class SimulatorOptions(BaseModel):
    """Everything that shapes a simulator run; same options + seed + anchor_ms = same events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="0 picks a free port")
    seed: int = 0
    markets: int = Field(20, ge=1)
    rate: float = Field(100.0, gt=0, description="events per second, all markets together")
    duration: float | None = Field(None, gt=0, description="seconds, then close (1001) and stop")
    catalogue: int = Field(0, ge=0, description="quiet markets listed beside --markets")
    mve: int = Field(0, ge=0, description="of the catalogue, multivariate (MVE) markets")
    quiet_share: float = Field(0.05, ge=0, le=1, description="share of events on catalogue markets")
    subscription_cap: int | None = Field(None, ge=1, description="markets per subscription; more: error 26")
    lifecycle_rate: float = Field(0.5, ge=0, description="market/event lifecycle changes per simulated second")
    max_events: int | None = Field(None, ge=0, description="stop generating after this many events")
    truth: Path | None = None
    faults: frozenset[str] = frozenset()
    public_key: Path | None = Field(None, description="PEM; when set, every request must be signed")
    key_id: str | None = Field(None, description="when set, the only accepted KALSHI-ACCESS-KEY")
    max_skew_ms: int = Field(300_000, ge=0)
    drop_probability: float = Field(0.01, ge=0, le=1)
    duplicate_probability: float = Field(0.01, ge=0, le=1)
    malformed_probability: float = Field(0.005, ge=0, le=1)
    disconnect_every: float = Field(30.0, gt=0)
    slow_every: float = Field(60.0, gt=0)
    fault_slots: int = Field(3, ge=2, description="connections share fault decisions modulo this")
    ping_interval: float | None = Field(10.0, gt=0)
    buffer_limit: int = Field(100_000, ge=1, description="queued frames per connection before error 25")
    anchor_ms: int | None = Field(None, description="simulated clock origin; default: wall clock at start")
    wait_for_subscribers: int = Field(
        1, ge=0, description="hold the feed until this many connections subscribed (0: start at once)"
    )

    fuzz_log: Path | None = Field(None, description="with --faults fuzz: name and sha256 of each mutant")
    fuzz_mutations: tuple[str, ...] = Field((), description="with --faults fuzz: these only (default all)")

    replay: Path | None = Field(None, description="serve this frame file instead of generating (README)")
    replay_speed: float = Field(1.0, ge=0, description="pace of recorded at_ms: 1 = as recorded, 0 = ignore")

    rest_rate_limit: float | None = Field(None, gt=0, description="REST requests per second "
                                          "(sliding 1 s window) before 429 answers")
    lose_trades: float = Field(0, ge=0, le=1, description="share of trades withheld from every "
                               "connection (still in the truth and on GET /markets/trades)")
    historical_after: float | None = Field(None, gt=0, description="seconds after which a trade "
                                           "leaves /markets/trades for /historical/trades")

    hold_feed: bool = Field(False, description="no events until Simulator.start_feed() (tests)")

    @model_validator(mode="after")
    def _mve_within_catalogue(self) -> "SimulatorOptions":
        if self.mve > self.catalogue:
            raise ValueError(f"--mve {self.mve} exceeds --catalogue {self.catalogue}")
        return self

    @field_validator("faults", mode="before")
    @classmethod
    def _parse_faults(cls, value: object) -> frozenset[str]:
        return parse_faults(value)

    @field_validator("fuzz_mutations", mode="before")
    @classmethod
    def _parse_mutations(cls, value: object) -> tuple[str, ...]:
        return mutation_names(value)


def parse_faults(value: object) -> frozenset[str]:
    """`"gaps,slow"` or an iterable of names -> validated set of fault names."""
    return frozenset(names_in(value, FAULTS, "fault"))


# flag -> (options field, argparse keyword arguments)
_FLAGS: dict[str, tuple[str, dict]] = {
    "--host": ("host", {"help": "listen address (default 127.0.0.1)"}),
    "--port": ("port", {"type": int, "help": f"REST and WS port (default {DEFAULT_PORT}; 0 = free port)"}),
    "--seed": ("seed", {"type": int, "help": "RNG seed (default 0)"}),
    "--markets": ("markets", {"type": int, "help": "markets at start (default 20)"}),
    "--catalogue": ("catalogue", {"type": int, "help": "quiet markets listed beside --markets (default 0)"}),
    "--mve": ("mve", {"type": int, "help": "of the catalogue, multivariate markets (default 0)"}),
    "--quiet-share": ("quiet_share", {"type": float, "help": "share of events on catalogue markets (default 0.05)"}),
    "--subscription-cap": ("subscription_cap", {"type": int, "help": "markets per subscription; more is error 26"}),
    "--rate": ("rate", {"type": float, "help": "events per second (default 100)"}),
    "--duration": ("duration", {"type": float, "help": "seconds to run (default: until Ctrl-C)"}),
    "--lifecycle-rate": ("lifecycle_rate", {"type": float, "help": "lifecycle changes per second (default 0.5)"}),
    "--max-events": ("max_events", {"type": int, "help": "stop the feed after N events"}),
    "--truth": ("truth", {"type": Path, "help": "write every emitted event to this JSONL file"}),
    "--faults": ("faults", {"help": f"comma list of {','.join(FAULTS)}"}),
    "--public-key": ("public_key", {"type": Path, "help": "RSA public key PEM: enforce signed requests"}),
    "--key-id": ("key_id", {"help": "only accept this KALSHI-ACCESS-KEY"}),
    "--drop-probability": ("drop_probability", {"type": float, "help": "per event, with --faults gaps"}),
    "--duplicate-probability": ("duplicate_probability", {"type": float, "help": "per event and connection"}),
    "--malformed-probability": ("malformed_probability", {"type": float, "help": "per event and connection"}),
    "--disconnect-every": ("disconnect_every", {"type": float, "help": "seconds between disconnects"}),
    "--slow-every": ("slow_every", {"type": float, "help": "seconds between injected error 25"}),
    "--ping-interval": ("ping_interval", {"type": float, "help": "seconds between Ping frames (default 10)"}),
    "--buffer-limit": ("buffer_limit", {"type": int, "help": "queued frames per connection before error 25"}),
    "--anchor-ms": ("anchor_ms", {"type": int, "help": "simulated clock origin (Unix ms)"}),
    "--wait-for-subscribers": ("wait_for_subscribers", {"type": int, "help": "start the feed after N subscribers (default 1; 0 = at once)"}),
    "--fuzz-log": ("fuzz_log", {"type": Path, "help": "with --faults fuzz: log each mutant here"}),
    "--fuzz-mutations": ("fuzz_mutations", {"help": "with --faults fuzz: comma list (default all)"}),
    "--rest-rate-limit": ("rest_rate_limit", {"type": float, "help": "REST requests/s before 429"}),
    "--lose-trades": ("lose_trades", {"type": float, "help": "share of trades no connection gets"}),
    "--historical-after": ("historical_after", {"type": float, "help": "seconds until a trade moves to /historical"}),
    "--replay": ("replay", {"type": Path, "help": "replay this frame file, journal segment/dir/hour or raw/frames object byte for byte (see README)"}),
    "--replay-speed": ("replay_speed", {"type": float, "help": "pace of the file's at_ms (1 = as recorded, 0 = ignore)"}),
}


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the `kstore simulate` flags; unset flags keep the SimulatorOptions defaults."""
    for flag, (dest, kwargs) in _FLAGS.items():
        parser.add_argument(flag, dest=f"sim_{dest}", default=None, metavar=dest.upper(), **kwargs)
    return parser


def options_from_args(args: argparse.Namespace) -> SimulatorOptions:
    given = {dest: getattr(args, f"sim_{dest}") for dest, _ in _FLAGS.values()}
    return SimulatorOptions(**{k: v for k, v in given.items() if v is not None})
