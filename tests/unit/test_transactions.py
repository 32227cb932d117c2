import time

import pytest

from reflex_logto.errors import InvalidTransaction
from reflex_logto.sessions import transactions as transactions_module
from reflex_logto.sessions.sealing import Sealer
from reflex_logto.sessions.transactions import (
    CLAIM_WINDOW,
    HANDOFF_TTL,
    MAX_PER_BINDING,
    TRANSACTION_TTL,
    HandoffStore,
    TransactionStore,
    new_transaction,
)
from tests.support.storages import everything_stored

NOW = time.time()


@pytest.fixture
def transactions(storage):
    return TransactionStore(storage, Sealer("k" * 32))


@pytest.fixture
def handoffs(storage):
    return HandoffStore(storage, Sealer("k" * 32))


async def started(transactions, binding="browser-a", now=NOW):
    txn = new_transaction("/profile")
    await transactions.save(txn, "https://op.example/auth?state=x", now=now)
    assert await transactions.claim(txn.id, binding, now=now) == "https://op.example/auth?state=x"
    return txn


def test_new_transactions_are_random_and_long_enough():
    a, b = new_transaction("/"), new_transaction("/")
    assert len({a.state, b.state, a.nonce, b.nonce, a.id, b.id}) == 6
    assert 43 <= len(a.code_verifier) <= 128  # RFC 7636, section 4.1


async def test_take_returns_the_transaction_once(transactions):
    txn = await started(transactions)
    assert await transactions.take(txn.state, "browser-a", now=NOW) == txn
    with pytest.raises(InvalidTransaction, match="already used"):
        await transactions.take(txn.state, "browser-a", now=NOW)


async def test_another_browser_cannot_take_it_nor_spend_it(transactions):
    txn = await started(transactions)
    for other in ("browser-b", None):
        with pytest.raises(InvalidTransaction, match="another browser"):
            await transactions.take(txn.state, other, now=NOW)
    # The browser that started it still finishes (a callback brought elsewhere spends nothing), once.
    assert await transactions.take(txn.state, "browser-a", now=NOW) == txn
    with pytest.raises(InvalidTransaction, match="already used"):
        await transactions.take(txn.state, "browser-a", now=NOW)


async def test_unclaimed_transaction_cannot_be_taken(transactions):
    txn = new_transaction("/")
    await transactions.save(txn, "https://op.example/auth", now=NOW)
    with pytest.raises(InvalidTransaction, match="another browser"):
        await transactions.take(txn.state, None, now=NOW)


async def test_it_expires_after_ten_minutes(transactions):
    txn = await started(transactions)
    assert TRANSACTION_TTL == 600
    with pytest.raises(InvalidTransaction, match="expired"):
        await transactions.take(txn.state, "browser-a", now=NOW + TRANSACTION_TTL + 1)


async def test_expired_transaction_cannot_be_claimed(transactions):
    txn = new_transaction("/")
    await transactions.save(txn, "https://op.example/auth", now=NOW)
    assert await transactions.claim(txn.id, "browser-a", now=NOW + TRANSACTION_TTL + 1) is None


async def test_an_unclaimed_transaction_waits_one_minute_for_its_claim(transactions):
    assert CLAIM_WINDOW == 60
    late, in_time = new_transaction("/"), new_transaction("/")
    for txn in (late, in_time):
        await transactions.save(txn, "https://op.example/auth", now=NOW)
    assert await transactions.claim(late.id, "browser-a", now=NOW + CLAIM_WINDOW) is None
    assert await transactions.claim(in_time.id, "browser-a", now=NOW + CLAIM_WINDOW - 1) == "https://op.example/auth"


async def test_claiming_gives_ten_minutes_from_the_claim(transactions):
    first, second = new_transaction("/"), new_transaction("/")
    for txn in (first, second):
        await transactions.save(txn, "https://op.example/auth", now=NOW)
        await transactions.claim(txn.id, "browser-a", now=NOW + 50)
    assert await transactions.take(first.state, "browser-a", now=NOW + 50 + TRANSACTION_TTL - 1) == first
    with pytest.raises(InvalidTransaction, match="expired"):
        await transactions.take(second.state, "browser-a", now=NOW + 50 + TRANSACTION_TTL)


async def test_a_browser_keeps_its_newest_claims(transactions):
    assert MAX_PER_BINDING == 5
    started_ones = [await started(transactions, now=NOW + n) for n in range(MAX_PER_BINDING + 2)]
    elsewhere = await started(transactions, binding="browser-b", now=NOW)
    for txn in started_ones[:2]:
        with pytest.raises(InvalidTransaction, match="already used"):
            await transactions.take(txn.state, "browser-a", now=NOW + 10)
    for txn in [*started_ones[2:]]:
        assert await transactions.take(txn.state, "browser-a", now=NOW + 10) == txn
    assert await transactions.take(elsewhere.state, "browser-b", now=NOW + 10) == elsewhere


async def test_a_full_store_makes_room_and_warns_once_a_minute(transactions, monkeypatch, caplog):
    monkeypatch.setattr(transactions_module, "MAX_TRANSACTIONS", 3)
    claimed = await started(transactions)
    for n in range(10):
        await transactions.save(new_transaction("/"), "https://op.example/auth", now=NOW + n / 100)
    warnings = [r for r in caplog.records if r.name == transactions_module.__name__ and r.levelname == "WARNING"]
    assert len(warnings) == 1 and "flood" in warnings[0].getMessage()
    assert await transactions.take(claimed.state, "browser-a", now=NOW + 1) == claimed  # unclaimed ones went first
    for _ in range(4):  # a minute on, all expired: room for three, and the fourth evicts again
        await transactions.save(new_transaction("/"), "https://op.example/auth", now=NOW + 61)
    warnings = [r for r in caplog.records if r.name == transactions_module.__name__ and r.levelname == "WARNING"]
    assert len(warnings) == 2 and "8 dropped" in warnings[1].getMessage()  # 7 held back, and this one


async def test_unknown_state_is_refused(transactions):
    with pytest.raises(InvalidTransaction):
        await transactions.take("never-issued", "browser-a", now=NOW)


async def test_secrets_are_sealed_at_rest(storage, transactions):
    txn = await started(transactions)
    raw = await everything_stored(storage)
    for secret in (txn.state, txn.nonce, txn.code_verifier):
        assert secret.encode() not in raw


async def test_handoff_is_used_once_by_the_cookie_it_is_bound_to(handoffs):
    handoff = await handoffs.create("sign_in", "browser-a", {"x": 1}, now=NOW)
    assert await handoffs.take("sign_in", handoff, "browser-b", now=NOW) is None
    handoff = await handoffs.create("sign_in", "browser-a", {"x": 1}, now=NOW)
    assert await handoffs.take("sign_in", handoff, "browser-a", now=NOW) == {"x": 1}
    assert await handoffs.take("sign_in", handoff, "browser-a", now=NOW) is None


async def test_handoff_of_another_kind_or_too_old_is_refused(handoffs):
    handoff = await handoffs.create("sign_out", "s", {"url": "/"}, now=NOW)
    assert await handoffs.take("sign_in", handoff, "s", now=NOW) is None
    handoff = await handoffs.create("sign_in", "s", {}, now=NOW)
    assert await handoffs.take("sign_in", handoff, "s", now=NOW + HANDOFF_TTL + 1) is None
