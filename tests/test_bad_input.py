"""Every bad setting or argument is one line on stderr, a non-zero exit and no traceback:
arguments (exit 2), settings and unreachable databases (exit 1), through the real CLI."""

from __future__ import annotations

import pytest

from conftest import run_kstore

UNREACHABLE = "host=127.0.0.1 port=1 dbname=nowhere connect_timeout=3"
# Every database of the default topology pointed at a closed port.
NOWHERE = {f"KSTORE_DSN__{name}": UNREACHABLE
           for name in ("PRODUCTION", "G1_TS", "G1_REL", "G2_TS", "G2_REL", "G3_TS", "G3_REL")}

CASES = {
    "maintain --as-of not a time": (["maintain", "--as-of", "not a time"], {}, 2),
    "gatherers not json": (["status"], {"KSTORE_GATHERERS": "not json"}, 1),
    "dsn not json": (["db", "status"], {"KSTORE_DSN": "x"}, 1),
    "timescaledb maybe": (["db", "status"], {"KSTORE_TIMESCALEDB": "maybe"}, 1),
    "batch rows not a number": (["db", "status"], {"KSTORE_GATHER__BATCH_ROWS": "many"}, 1),
    "fdw sslmode not a libpq mode": (["db", "status"], {"KSTORE_FDW__SSLMODE": "verify"}, 1),
    "config file missing": (["--config", "/nonexistent/kstore.toml", "db", "status"], {}, 1),
    "up --duration -5": (["up", "--duration", "-5"], {}, 2),
    "up --rate 0": (["up", "--rate", "0"], {}, 2),
    "up --markets many": (["up", "--markets", "many"], {}, 2),
    "up --exchange nonsense": (["up", "--exchange", "nonsense"], {}, 1),
    "up --exchange with simulator options": (["up", "--exchange", "kalshi", "--seed", "3"], {}, 1),
    "db reset without --yes": (["db", "reset"], {}, 1),
    "audit without a truth file": (["audit", "--truth", "/nonexistent", "--target", "g1"], {}, 1),
    "unreachable: dedup --once": (["dedup", "--once"], NOWHERE, 1),
    "unreachable: export --once": (["export", "--once"], NOWHERE, 1),
    "unreachable: transform": (["transform"], NOWHERE, 1),
    "unreachable: maintain": (["maintain"], NOWHERE, 1),
    "unreachable: migrate": (["migrate"], NOWHERE, 1),
    "unreachable: up": (["up", "--duration", "5"], NOWHERE, 1),
    "unreachable: gather": (["gather", "--gatherer", "g1", "--duration", "3"], NOWHERE, 1),
    "unreachable: backfill": (["backfill", "--from", "g2", "--to", "g1", "--table", "trades",
                               "--since", "2026-01-01", "--until", "2026-01-02"], NOWHERE, 1),
}


@pytest.mark.parametrize("argv, env, code", CASES.values(), ids=CASES.keys())
def test_bad_input_is_one_line_and_a_non_zero_exit(argv, env, code, tmp_path):
    done = run_kstore(*argv, env={"KSTORE_HOME": str(tmp_path / "home")} | env, timeout=120)
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("kstore") and ": error: " in done.stderr
