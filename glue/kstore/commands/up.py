"""Run the whole platform on this machine until Ctrl-C.

For trying kstore end to end: starts and migrates the local databases, then runs the simulated
exchange, one gatherer per configured id, the deduplicator, the lake export, maintenance (at
start, then hourly) and, every few minutes, the transform; a process that dies is restarted.
With `--duration` the feed ends after that many seconds, everything is flushed and merged, and
it exits (then `kstore audit` can check the result). `--exchange` runs the same against a real
exchange instead of the simulator: `kalshi`, `kalshi-demo`, `settings` (kalshi.ws_url and
kalshi.rest_url as configured) or `WS_URL,REST_URL`; the key comes from KSTORE_KALSHI__KEY_ID and
KSTORE_KALSHI__PRIVATE_KEY(_FILE). Logs go to .kstore/logs/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kstore import up as platform
from kstore.settings import Settings, SettingsError

# Options passed on to the simulator: (flag, attribute of args).
SIMULATOR_OPTIONS = (("--seed", "seed"), ("--duration", "duration"), ("--truth", "truth"),
                     ("--faults", "faults"), ("--rate", "rate"), ("--markets", "markets"),
                     ("--disconnect-every", "disconnect_every"))
# Kalshi's hosts (docs.kalshi.com): production and the demo environment.
EXCHANGES = {
    "kalshi": platform.Exchange("wss://external-api-ws.kalshi.com/trade-api/ws/v2",
                                "https://external-api.kalshi.com/trade-api/v2"),
    "kalshi-demo": platform.Exchange("wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
                                     "https://external-api.demo.kalshi.co/trade-api/v2"),
}


def positive(kind):
    """An argparse type: a number of `kind` above zero (bad values: one line, exit 2)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, help="simulator seed")
    parser.add_argument("--duration", type=positive(float),
                        help="feed seconds, then flush, merge and exit")
    parser.add_argument("--truth", help="simulator truth file, for kstore audit")
    parser.add_argument("--faults",
                        help="simulator faults: gaps,disconnects,duplicates,malformed,slow")
    parser.add_argument("--rate", type=positive(float), help="simulator events per second")
    parser.add_argument("--markets", type=positive(int), help="simulator markets")
    parser.add_argument("--disconnect-every", type=positive(float),
                        help="seconds between injected disconnects")
    parser.add_argument("--exchange", metavar="EXCHANGE",
                        help="a real exchange instead of the simulator: kalshi, kalshi-demo, "
                        "settings (kalshi.ws_url/rest_url) or WS_URL,REST_URL")


def exchange_of(name: str | None, settings: Settings) -> platform.Exchange:
    """The exchange `--exchange` names (none: the simulator)."""
    if name is None:
        return platform.Exchange()
    if name == "settings":
        return platform.Exchange(settings.kalshi.ws_url, settings.kalshi.rest_url)
    if name in EXCHANGES:
        return EXCHANGES[name]
    ws_url, _, rest_url = name.partition(",")
    if not (ws_url.startswith(("ws://", "wss://"))
            and rest_url.startswith(("http://", "https://"))):
        raise SettingsError(f"--exchange {name!r}: use {', '.join(EXCHANGES)}, settings or "
                            "WS_URL,REST_URL (wss://…/trade-api/ws/v2,https://…/trade-api/v2)")
    return platform.Exchange(ws_url, rest_url)


def run(args: argparse.Namespace, settings: Settings) -> int:
    exchange = exchange_of(args.exchange, settings)
    simulated = [flag for flag, name in SIMULATOR_OPTIONS
                 if name != "duration" and getattr(args, name) is not None]
    if simulated and not exchange.simulated:
        raise SettingsError(f"{', '.join(simulated)} shape the simulator; --exchange "
                            f"{args.exchange} captures a real exchange")
    simulate_args = [str(part) for flag, name in SIMULATOR_OPTIONS
                     if getattr(args, name) is not None for part in (flag, getattr(args, name))]
    config = Path(args.config) if getattr(args, "config", None) else None
    return platform.run(settings, simulate_args, args.duration, config, exchange)
