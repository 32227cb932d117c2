"""The Redis storage: one store shared by every worker on every machine.

Each step that reads and then writes is one Lua script, so it is atomic
across workers the way one SQLite statement is. Every record carries its
own `expires_at`, checked against the caller's clock as SQLite does; Redis
expiry only clears records away (a session an hour later, `GC_AFTER`, so an
ended one can still say why). Needs Redis 7 or later. Scripts reach keys
they derive themselves, so this needs one Redis (with replicas, if wanted),
not Redis Cluster. Keys start with `logto:`, apart from Reflex's own.

Sign-in transactions are indexed in sorted sets scored by `expires_at`:
`txns-unclaimed`, `txns-claimed` and one `txns-binding:<hash>` per browser.
The scripts drop entries past their score before counting, so an expired
transaction counts toward no bound (its record goes by Redis expiry), and
remove a transaction from every index whenever they remove it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import redis.asyncio as redis

from reflex_logto.sessions.stores import (
    HandoffRecord,
    SessionRecord,
    TransactionRecord,
    no_transaction,
    unavailable_on,
)

log = logging.getLogger(__name__)

PREFIX = "logto:"
GC_AFTER = 60 * 60  # seconds a session's record is kept past its expiry: an ended session can still say why
PURGE_INTERVAL = 60  # seconds
SOCKET_TIMEOUT = 5  # seconds: a Redis that stops answering fails the request, it doesn't hang it
LATE_CALLBACK = 60  # seconds a claimed transaction is kept past its expiry: a late callback is told it expired

# A session's hash fields: SessionRecord's, but for `key` (in the hash's name), and `tokens`.
FIELDS = ("handle", "sub", "sid", "claims", "refresh_at", "user_agent", "acting_party", "created_at", "last_used_at", "expires_at")

_END_SESSION = """
local function end_session(prefix, key, reason, reason_ttl)
  local s = prefix .. 'session:' .. key
  local f = redis.call('HMGET', s, 'sub', 'sid', 'tokens')
  redis.call('ZREM', prefix .. 'sessions', key)
  if not f[3] then return false end
  redis.call('DEL', s)
  redis.call('SREM', prefix .. 'sub:' .. f[1], key)
  if f[2] then redis.call('SREM', prefix .. 'sid:' .. f[2], key) end
  redis.call('SET', prefix .. 'ended:' .. key, reason, 'EX', reason_ttl)  -- reason: "<until> <why>"
  return f[3]
end
"""

_DROP_TRANSACTION = """
local function drop_transaction(prefix, id)  -- the record, its state key, its index entries
  local t = prefix .. 'txn:' .. id
  local f = redis.call('HMGET', t, 'state_hash', 'binding', 'payload', 'expires_at')
  redis.call('DEL', t)
  if f[1] then redis.call('DEL', prefix .. 'txn-state:' .. f[1]) end
  redis.call('ZREM', prefix .. 'txns-unclaimed', id)
  redis.call('ZREM', prefix .. 'txns-claimed', id)
  if f[2] then redis.call('ZREM', prefix .. 'txns-binding:' .. f[2], id) end
  return f
end
"""

# ARGV: prefix, id, state_hash, payload, expires_at, now, limit, ttl. How many unexpired ones it evicted.
INSERT_TRANSACTION = _DROP_TRANSACTION + """
local prefix, id, now = ARGV[1], ARGV[2], ARGV[6]
local unclaimed, claimed = prefix .. 'txns-unclaimed', prefix .. 'txns-claimed'
redis.call('ZREMRANGEBYSCORE', unclaimed, '-inf', now)
redis.call('ZREMRANGEBYSCORE', claimed, '-inf', now)
local over = redis.call('ZCARD', unclaimed) + redis.call('ZCARD', claimed) - tonumber(ARGV[7]) + 1
local evicted = 0
for _, index in ipairs({unclaimed, claimed}) do  -- the oldest unclaimed first, then the oldest claimed
  if over <= 0 then break end
  for _, victim in ipairs(redis.call('ZRANGE', index, 0, over - 1)) do
    drop_transaction(prefix, victim)
    evicted = evicted + 1
    over = over - 1
  end
end
local t = prefix .. 'txn:' .. id
redis.call('HSET', t, 'state_hash', ARGV[3], 'payload', ARGV[4], 'expires_at', ARGV[5])
redis.call('EXPIRE', t, ARGV[8])
redis.call('SET', prefix .. 'txn-state:' .. ARGV[3], id, 'EX', ARGV[8])
redis.call('ZADD', unclaimed, ARGV[5], id)
return evicted
"""

# KEYS[1]: the transaction. ARGV: prefix, id, binding_hash, now, expires_at, per_binding, ttl.
CLAIM_TRANSACTION = _DROP_TRANSACTION + """
local prefix, id, binding, now, expires_at = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local f = redis.call('HMGET', KEYS[1], 'payload', 'expires_at', 'binding', 'state_hash')
if not f[1] or f[3] or tonumber(f[2]) <= tonumber(now) then return false end
redis.call('HSET', KEYS[1], 'binding', binding, 'expires_at', expires_at)
redis.call('EXPIRE', KEYS[1], ARGV[7])
if f[4] then redis.call('EXPIRE', prefix .. 'txn-state:' .. f[4], ARGV[7]) end
redis.call('ZREM', prefix .. 'txns-unclaimed', id)
redis.call('ZADD', prefix .. 'txns-claimed', expires_at, id)
local b = prefix .. 'txns-binding:' .. binding
redis.call('ZREMRANGEBYSCORE', b, '-inf', now)
redis.call('ZADD', b, expires_at, id)
redis.call('EXPIRE', b, ARGV[7], 'NX')  -- a new index: as long as this transaction
redis.call('EXPIRE', b, ARGV[7], 'GT')  -- an existing one: as long as its longest
local extra = redis.call('ZCARD', b) - tonumber(ARGV[6])
if extra > 0 then  -- this browser's oldest go, never the one just claimed
  for _, victim in ipairs(redis.call('ZRANGE', b, 0, -1)) do
    if extra <= 0 then break end
    if victim ~= id then
      drop_transaction(prefix, victim)
      redis.call('ZREM', b, victim)
      extra = extra - 1
    end
  end
end
return f[1]
"""

# KEYS[1]: the state key. ARGV: prefix, binding_hash ("" for none). Only a transaction bound to it goes.
TAKE_TRANSACTION = _DROP_TRANSACTION + """
local id = redis.call('GET', KEYS[1])
if not id then return false end
local bound = redis.call('HGET', ARGV[1] .. 'txn:' .. id, 'binding')
if not bound or ARGV[2] == '' or bound ~= ARGV[2] then return false end
redis.call('DEL', KEYS[1])
local f = drop_transaction(ARGV[1], id)
if not f[3] then return false end
return {id, f[2], f[3], f[4]}
"""

TAKE_HANDOFF = """
local f = redis.call('HMGET', KEYS[1], 'kind', 'binding', 'payload', 'expires_at')
redis.call('DEL', KEYS[1])
if not f[3] then return false end
return f
"""

TOUCH_SESSION = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'last_used_at', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

END_SESSION = _END_SESSION + "return end_session(ARGV[1], ARGV[2], ARGV[3], ARGV[4])"

TAKE_LEASE = """
local lease = redis.call('HGET', KEYS[1], 'refresh_lease')
if not lease or tonumber(lease) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'refresh_lease', ARGV[2], 'refresh_owner', ARGV[3])
return 1
"""

END_WAIT = """
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HEXISTS', KEYS[1], 'refresh_owner') == 0 then
  redis.call('HSET', KEYS[1], 'refresh_lease', 0)
end
"""

RELEASE_LEASE = """
if redis.call('HGET', KEYS[1], 'refresh_owner') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'refresh_lease', ARGV[2])
  redis.call('HDEL', KEYS[1], 'refresh_owner')
end
"""

SAVE_REFRESHED = """
if redis.call('HGET', KEYS[1], 'refresh_owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'tokens', ARGV[2], 'claims', ARGV[3], 'refresh_at', ARGV[4], 'refresh_lease', 0)
redis.call('HDEL', KEYS[1], 'refresh_owner')
return 1
"""

SPEND_LOGOUT_TOKEN = _END_SESSION + """
local prefix = ARGV[1]
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return -1 end
local keys
if ARGV[3] ~= '' and ARGV[4] ~= '' then
  keys = redis.call('SINTER', prefix .. 'sub:' .. ARGV[3], prefix .. 'sid:' .. ARGV[4])
elseif ARGV[3] ~= '' then
  keys = redis.call('SMEMBERS', prefix .. 'sub:' .. ARGV[3])
else
  keys = redis.call('SMEMBERS', prefix .. 'sid:' .. ARGV[4])
end
local ended = 0
for _, key in ipairs(keys) do
  if end_session(prefix, key, ARGV[6], ARGV[5]) then
    ended = ended + 1
  else  -- cleared away by expiry: drop it from the indexes too
    if ARGV[3] ~= '' then redis.call('SREM', prefix .. 'sub:' .. ARGV[3], key) end
    if ARGV[4] ~= '' then redis.call('SREM', prefix .. 'sid:' .. ARGV[4], key) end
  end
end
return ended
"""


def _ttl(expires_at: float, now: float, keep: int = 0) -> int:
    """Whole seconds until Redis may clear a record that expires at `expires_at` (plus `keep`)."""
    return max(1, math.ceil(expires_at - now)) + keep


def _reason(reason: str, until: float) -> str:
    """An ended session's reason, with when to forget it (checked against the caller's clock)."""
    return f"{until!r} {reason}"


def _number(value: bytes | None) -> float | None:
    return float(value) if value not in (None, b"") else None


def _text(value: bytes | None) -> str | None:
    return value.decode() if value is not None else None


@unavailable_on(redis.RedisError, "Redis")
class RedisStorage:
    def __init__(self, url: str):
        self.redis = redis.Redis.from_url(
            url, decode_responses=False, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
        )
        script = self.redis.register_script
        self._insert_transaction = script(INSERT_TRANSACTION)
        self._claim_transaction = script(CLAIM_TRANSACTION)
        self._take_transaction = script(TAKE_TRANSACTION)
        self._take_handoff = script(TAKE_HANDOFF)
        self._touch_session = script(TOUCH_SESSION)
        self._end_session = script(END_SESSION)
        self._take_lease = script(TAKE_LEASE)
        self._end_wait = script(END_WAIT)
        self._release_lease = script(RELEASE_LEASE)
        self._save_refreshed = script(SAVE_REFRESHED)
        self._spend_logout_token = script(SPEND_LOGOUT_TOKEN)
        self._purged_at = float("-inf")

    def atomic(self):
        return no_transaction()

    async def close(self) -> None:
        await self.redis.aclose()

    # -- sign-in transactions ----------------------------------------------

    async def insert_transaction(
        self, txn_id: str, state_hash: str, payload: bytes, expires_at: float, *, now: float, limit: int
    ) -> int:
        # Unclaimed, it goes when it expires: no callback can be this browser's before a claim.
        args = [PREFIX, txn_id, state_hash, payload, repr(expires_at), repr(now), limit, _ttl(expires_at, now)]
        return await self._insert_transaction(args=args)

    async def claim_transaction(
        self, txn_id: str, binding_hash: str, now: float, *, expires_at: float, per_binding: int
    ) -> bytes | None:
        ttl = _ttl(expires_at, now, keep=LATE_CALLBACK)
        args = [PREFIX, txn_id, binding_hash, repr(now), repr(expires_at), per_binding, ttl]
        return await self._claim_transaction(keys=[f"{PREFIX}txn:{txn_id}"], args=args)

    async def take_transaction(self, state_hash: str, binding_hash: str | None) -> TransactionRecord | None:
        found = await self._take_transaction(keys=[f"{PREFIX}txn-state:{state_hash}"], args=[PREFIX, binding_hash or ""])
        if not found:
            return None
        txn_id, binding, payload, expires_at = found
        return TransactionRecord(txn_id.decode(), _text(binding), payload, float(expires_at))

    # -- handoffs ------------------------------------------------------------

    async def insert_handoff(self, handoff_id: str, kind: str, binding_hash: str, payload: bytes, expires_at: float, *, now: float) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            key = f"{PREFIX}handoff:{handoff_id}"
            pipe.hset(key, mapping={"kind": kind, "binding": binding_hash, "payload": payload, "expires_at": repr(expires_at)})
            pipe.expire(key, _ttl(expires_at, now))
            await pipe.execute()

    async def take_handoff(self, handoff_id: str) -> HandoffRecord | None:
        found = await self._take_handoff(keys=[f"{PREFIX}handoff:{handoff_id}"])
        if not found:
            return None
        kind, binding, payload, expires_at = found
        return HandoffRecord(kind.decode(), binding.decode(), payload, float(expires_at))

    # -- sessions ------------------------------------------------------------

    async def insert_session(self, record: SessionRecord, tokens: bytes, *, deadline: float, now: float) -> None:
        key, sub, sid = record.key, record.sub, record.sid
        fields: dict[str, str | bytes | int] = {"tokens": tokens, "refresh_lease": 0, "refresh_at": ""}
        for field in FIELDS:
            value = getattr(record, field)
            if value is not None:  # an absent field reads back as None
                fields[field] = repr(value) if isinstance(value, float) else value
        ttl = _ttl(record.expires_at, now, keep=GC_AFTER)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{PREFIX}session:{key}", mapping=fields)
            pipe.expire(f"{PREFIX}session:{key}", ttl)
            pipe.zadd(f"{PREFIX}sessions", {key: deadline})
            for index in ([f"{PREFIX}sub:{sub}"] + ([f"{PREFIX}sid:{sid}"] if sid else [])):
                pipe.sadd(index, key)
                pipe.expire(index, ttl, nx=True)  # a new index: as long as its session
                pipe.expire(index, ttl, gt=True)  # an existing one: as long as its longest
            await pipe.execute()
        await self._purge(now)

    async def _purge(self, now: float) -> None:
        """Drop sessions past their deadline from the live index; at most once a minute per process.

        Nothing else reads it: such a session is ended by its next lookup, or cleared away by expiry.
        """
        if now - self._purged_at < PURGE_INTERVAL:
            return
        self._purged_at = now
        try:
            await self.redis.zremrangebyscore(f"{PREFIX}sessions", "-inf", repr(now))
        except redis.RedisError as err:  # housekeeping: the sign-in that ran it has succeeded
            log.warning("could not purge the sessions index: %s", err)

    async def get_session(self, key: str) -> tuple[SessionRecord, bytes] | None:
        values = await self.redis.hmget(f"{PREFIX}session:{key}", [*FIELDS, "tokens"])
        if values[-1] is None:
            return None
        return _record(key, values[:-1]), values[-1]

    async def touch_session(self, key: str, now: float, deadline: float) -> None:
        await self._touch_session(keys=[f"{PREFIX}session:{key}", f"{PREFIX}sessions"], args=[repr(now), repr(deadline), key])

    async def session_tokens(self, key: str) -> bytes | None:
        return await self.redis.hget(f"{PREFIX}session:{key}", "tokens")

    async def end_session(self, key: str, reason: str, reason_until: float, *, now: float) -> bytes | None:
        reason_ttl = _ttl(reason_until, now)
        tokens = await self._end_session(args=[PREFIX, key, _reason(reason, reason_until), reason_ttl])
        return tokens or None

    async def ended_reason(self, key: str, now: float) -> str | None:
        found = await self.redis.get(f"{PREFIX}ended:{key}")
        if found is None:
            return None
        until, reason = found.decode().split(" ", 1)
        return reason if float(until) > now else None

    async def sessions_of(self, sub: str, now: float, idle_since: float) -> list[SessionRecord]:
        index = f"{PREFIX}sub:{sub}"
        keys = [member.decode() for member in await self.redis.smembers(index)]
        records: list[SessionRecord] = []
        gone: list[str] = []
        for key, values in zip(keys, await self._many(keys), strict=True):
            if values[0] is None:
                gone.append(key)
                continue
            record = _record(key, values)
            if record.expires_at > now and record.last_used_at > idle_since:
                records.append(record)
        if gone:
            await self.redis.srem(index, *gone)
        return sorted(records, key=lambda record: record.last_used_at, reverse=True)

    async def _many(self, keys: Sequence[str]) -> list[list[bytes | None]]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(f"{PREFIX}session:{key}", FIELDS)
            return await pipe.execute()

    async def count_live(self, now: float, idle_since: float) -> int:
        # Scored by deadline, the earlier of both lifetimes, as of the session's last use:
        # live means a deadline still ahead (with the idle timeout the session was last used under).
        return await self.redis.zcount(f"{PREFIX}sessions", f"({now!r}", "+inf")

    async def session_keys(self, sub: str | None, sid: str | None) -> list[str]:
        indexes = [f"{PREFIX}{name}:{value}" for name, value in (("sub", sub), ("sid", sid)) if value is not None]
        if not indexes:
            return []
        return [member.decode() for member in await self.redis.sinter(indexes)]

    # -- refresh leases ------------------------------------------------------

    async def take_lease(self, key: str, owner: str, now: float, until: float) -> bool:
        return bool(await self._take_lease(keys=[f"{PREFIX}session:{key}"], args=[repr(now), repr(until), owner]))

    async def lease_is_a_wait(self, key: str, now: float) -> bool:
        lease, owner = await self.redis.hmget(f"{PREFIX}session:{key}", ["refresh_lease", "refresh_owner"])
        return lease is not None and float(lease) > now and owner is None

    async def end_wait(self, key: str) -> None:
        await self._end_wait(keys=[f"{PREFIX}session:{key}"])

    async def release_lease(self, key: str, owner: str, until: float) -> None:
        await self._release_lease(keys=[f"{PREFIX}session:{key}"], args=[owner, repr(until)])

    async def save_refreshed(self, key: str, owner: str, tokens: bytes, claims: str, refresh_at: float | None) -> bool:
        args = [owner, tokens, claims, "" if refresh_at is None else repr(refresh_at)]
        return bool(await self._save_refreshed(keys=[f"{PREFIX}session:{key}"], args=args))

    # -- back-channel logout -------------------------------------------------

    async def spend_logout_token(
        self, jti: str, expires_at: float, sub: str | None, sid: str | None, reason_until: float, *, now: float
    ) -> int | None:
        args = [PREFIX, _ttl(expires_at, now), sub or "", sid or "", _ttl(reason_until, now),
                _reason("provider_logout", reason_until)]
        ended = await self._spend_logout_token(keys=[f"{PREFIX}jti:{jti}"], args=args)
        return None if ended < 0 else ended


def _record(key: str, values: Sequence[bytes | None]) -> SessionRecord:
    """A session's record from its hash fields, in the order of FIELDS."""
    handle, sub, sid, claims, refresh_at, user_agent, acting, created_at, last_used_at, expires_at = values
    return SessionRecord(
        key, handle.decode(), sub.decode(), _text(sid), claims.decode(), _number(refresh_at), user_agent.decode(),
        _text(acting), float(created_at), float(last_used_at), float(expires_at),
    )
