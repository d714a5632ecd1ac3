"""The three delivery guarantees on the same faulty run, as lesson 07's table shows them.

The lesson prints ``mqlab.checks.lesson07.guarantees(SEED)``; this file asserts what that table
teaches, on the lesson's seed and on others: at-most-once loses payments and never charges one
twice (unless the links themselves copy messages), at-least-once loses none and charges some
twice, and the idempotent consumer charges every payment exactly once. The charges are counted
from the bank's side effects (its handler), not from the broker's acks.
"""

import pytest

from mqlab.checks import lesson07 as model

SEEDS = [model.SEED, 1, 2, 3, 4, 6, 7]
N = model.BANK["payments"]


@pytest.mark.parametrize("seed", SEEDS)
def test_at_most_once_loses_at_least_once_duplicates_effectively_once_is_exact(seed):
    table = model.guarantees(seed)
    assert table["at-most-once"]["lost"] > 0 and table["at-most-once"]["twice"] == 0
    assert table["at-least-once"]["lost"] == 0 and table["at-least-once"]["twice"] > 0
    assert table["effectively-once"]["lost"] == 0 and table["effectively-once"]["twice"] == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_links_that_copy_add_duplicates_that_only_the_dedup_store_removes(seed):
    copying = model.guarantees(seed, duplicate=0.05)
    assert copying["at-most-once"]["lost"] > 0 and copying["at-most-once"]["twice"] > 0
    assert copying["at-least-once"]["lost"] == 0 and copying["at-least-once"]["twice"] > 0
    assert copying["effectively-once"]["lost"] == 0
    assert copying["effectively-once"]["twice"] == 0


def test_the_lessons_table():
    """The numbers the lesson's prose quotes (seed 5)."""
    table = model.guarantees()
    assert {m: (row["lost"], row["twice"]) for m, row in table.items()} == {
        "at-most-once": (40, 0), "at-least-once": (0, 11), "effectively-once": (0, 0)}
    # at-least-once pays for it in traffic: retries and redeliveries
    assert table["at-least-once"]["publishes"] > N == table["at-most-once"]["publishes"]
    assert (table["at-least-once"]["publishes"], table["at-least-once"]["deliveries"]) == (218, 232)
    assert table["at-most-once"]["deliveries"] == 179
    assert table["effectively-once"]["publishes"] == table["at-least-once"]["publishes"]
    copying = model.guarantees(duplicate=0.05)
    assert {m: (row["lost"], row["twice"]) for m, row in copying.items()} == {
        "at-most-once": (32, 15), "at-least-once": (0, 29), "effectively-once": (0, 0)}


def test_what_at_most_once_lost_on_the_lessons_seed():
    """The prose splits at-most-once's 40 lost payments: 33 lost on a link, 7 waiting in the
    bank when it crashed (auto ack: the broker had forgotten them)."""
    _, run = model.payments("at-most-once")
    assert dict(run.summary().account.dropped) == {"loss": 33, "crash": 7}


def test_at_least_once_charges_twice_once_per_crash_before_the_ack():
    """Without copying links, each crash between the charge and the ack is one extra charge."""
    for seed in SEEDS:
        charges, run = model.payments("at-least-once", seed)
        crashes = len(run.trace.filter(kind="crash", node="bank"))
        assert crashes > 0 and sum(n - 1 for n in charges.values()) == crashes


@pytest.mark.parametrize("mode", model.GUARANTEES)
def test_every_run_of_the_table_adds_up(mode):
    for duplicate in (0.0, 0.05):
        _, run = model.payments(mode, duplicate=duplicate)
        assert run.summary().balanced


def test_the_idempotent_bank_acks_the_duplicates_it_recognises_without_charging():
    charges, run = model.payments("effectively-once", duplicate=0.05)
    skipped = [e for e in run.trace.filter(kind="ack", node="bank") if e.info == "duplicate"]
    assert skipped and all(charges[e.msg] == 1 for e in skipped)


def test_payloads_repeat_so_only_the_id_tells_payments_apart():
    payloads = [model.payment(i) for i in range(N)]
    assert len({tuple(sorted(p.items())) for p in payloads}) < N / 5


def test_a_mode_that_is_not_a_guarantee_is_refused():
    with pytest.raises(ValueError, match="mode must be one of 'at-most-once'"):
        model.payments_network("exactly-once")
