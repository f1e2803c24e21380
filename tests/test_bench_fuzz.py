"""`kstore bench fuzz`: mutated copies of valid frames through a live gatherer process (real
WebSocket, real cluster); 0 crashes and 0 lost valid neighbours, every mutant accounted for.

The mutations that crashed the gatherer or made it lose valid frames before the strict decoder
(issue 9, decision 0023) each keep a case of their own (FINDINGS), and run in the 20,000-frame
run with every other mutation.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from kstore.bench import fuzz
from kstore.simulator.mutations import MUTATIONS, Mutator, mutation_names

# mutation -> what the gatherer did with it before decision 0023 (`kstore bench fuzz`, 2026-12-06)
FINDINGS = {
    "deep_nesting": "json.loads raises RecursionError out of the frame handler: the gatherer dies",
    "deep_nesting_objects": "RecursionError as deep_nesting, with nested objects",
    "huge_integer": "a 5000-digit integer: json.loads raises ValueError (int digit limit), "
                    "not JSONDecodeError: the gatherer dies",
    "seq_over_2_63": "seq > 2^63 passes validation: every later delta of the sid is dropped as a "
                     "duplicate, the rows the database refuses are quarantined as row dumps, "
                     "and SIGTERM no longer ends the gatherer",
}
DELTA = ('{"type":"orderbook_delta","sid":2,"seq":17,"msg":{"market_ticker":"KX-ABC-26.5",'
         '"market_id":"00000000-0000-4000-8000-00000000bad1","price_dollars":"0.5000",'
         '"delta_fp":"1.00","side":"yes","ts_ms":1796000000000},"sending_ts_ms":1796000000001}')


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    fuzz.add_arguments(parser)
    return parser.parse_args(list(argv))


def _run(server, tmp_path: Path, *argv: str) -> dict:
    args = _args(*argv)
    return fuzz.fuzz(server, server.settings(), args, fuzz.mutations(args), tmp_path)


def _accounted(result: dict, frames: int) -> None:
    """Every mutant sent is quarantined or stayed valid; what stayed valid added at most one
    row each."""
    mutants = {name: c for name, c in result["mutants"].items() if name}
    assert sum(c["sent"] for c in mutants.values()) == frames
    new_rows = sum(r["extra"] + r["duplicated"]
                   for r in fuzz.audit.compared(result["audit"]).values())
    assert new_rows <= sum(c["valid"] for c in mutants.values())


def test_20000_mutants_no_crash_no_lost_neighbour(plain_server, tmp_path):
    result = _run(plain_server, tmp_path, "--frames", "20000", "--rate", "1500")
    assert fuzz.crashes(result) == 0, result["stderr"]
    assert fuzz.lost(result) == 0, fuzz.report(result)
    _accounted(result, 20_000)
    assert result["mutants"]["truncate"]["quarantined"] == result["mutants"]["truncate"]["sent"]


@pytest.mark.parametrize("mutation", list(FINDINGS))
def test_a_finding_no_longer_crashes_or_loses(plain_server, tmp_path, mutation):
    result = _run(plain_server, tmp_path, "--frames", "600", "--rate", "2000",
                  "--mutations", f"truncate,{mutation}")
    assert fuzz.crashes(result) == 0, result["stderr"]
    assert fuzz.lost(result) == 0, fuzz.report(result)
    assert result["mutants"][mutation]["quarantined"] == 300


def test_bad_mutation_names_are_one_line_errors():
    with pytest.raises(fuzz.SettingsError, match="unknown mutation"):
        fuzz.mutations(_args("--mutations", "bit_rot"))
    with pytest.raises(fuzz.SettingsError, match="leaves no mutation"):
        fuzz.mutations(_args("--mutations", "bom", "--exclude", "bom"))
    assert mutation_names("") == ()


def test_mutants_are_deterministic_and_cycle_through_every_mutation(tmp_path):
    first, second = Mutator(7, tmp_path / "a.tsv"), Mutator(7)
    assert [first.mutate(DELTA) for _ in MUTATIONS] == [second.mutate(DELTA) for _ in MUTATIONS]
    first.close()
    names = [line.split("\t")[0] for line in (tmp_path / "a.tsv").read_text().splitlines()]
    assert names == list(MUTATIONS)


@hsettings(max_examples=300, deadline=None)
@given(name=st.sampled_from(list(MUTATIONS)), word=st.integers(0, 2**64 - 1))
def test_a_mutant_never_carries_a_valid_new_seq_or_sid(name, word):
    """If a mutant still decodes, its envelope is the copied frame's, or out of range or of the
    wrong type: it can never open a gap or hide a later valid frame."""
    mutant = MUTATIONS[name](DELTA, word)
    raw = bytes(mutant) if isinstance(mutant, bytes) else mutant.encode("utf-8", "surrogatepass")
    assert type(mutant) is bytes or raw != DELTA.encode()  # a binary frame of the same bytes
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        return
    if not isinstance(message, dict):
        return
    for field, original in (("sid", 2), ("seq", 17)):
        value = message.get(field, original)
        assert value == original or not isinstance(value, int) or value >= 2**63, (field, value)


def test_random_edits_stay_inside_msg():
    for word in range(0, 2**40, 2**33 + 12345):
        flipped = bytes(MUTATIONS["byte_flip"](DELTA, word))
        assert re.match(rb'\{"type":"orderbook_delta","sid":2,"seq":17,"msg":\{', flipped)
