"""`kstore bench catalogue`, run small through the real CLI (simulator, gatherer and cluster in
their own processes): every line of its report is there, every selected book is baselined, and
the REST book round covers the whole selection without one 429 from a simulator that refuses
more than the Basic tier's 20 requests/s."""

from __future__ import annotations

import re

from conftest import PG_BIN, run_kstore

SMALL = ("bench", "catalogue", "--catalogue", "3000", "--mve", "1000", "--seconds", "2",
         "--rate", "500", "--timeout", "120")


def test_bench_catalogue_small():
    result = run_kstore(*SMALL, env={"KSTORE_PG_BIN": str(PG_BIN)}, timeout=600)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    books = int(re.search(r"markets \(1000 MVE\), (\d+) books selected", out)[1])
    assert books > 100, out
    assert re.search(r"every book subscribed and baselined: [\d.]+ s \(meets", out), out
    assert re.search(r"gatherer peak RSS: \d+ MiB \(meets", out), out
    assert re.search(r"sustained events/s: [\d.]+ with the catalogue vs [\d.]+ at 50 markets", out)
    found = re.search(rf"one REST book round of {books} books: (\d+) batch calls in [\d.]+ s .*"
                      r"at most (\d+) REST requests in one second \(Basic: 20\), (\d+) refused", out)
    assert found, out
    calls, most, refused = map(int, found.groups())
    assert calls == -(-books // 100), "one batch call per 100 books"
    assert most <= 20 and refused == 0, out


def test_bench_catalogue_bad_argument_is_one_line():
    result = run_kstore("bench", "catalogue", "--catalogue", "lots")
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) <= 2 and "Traceback" not in result.stderr
