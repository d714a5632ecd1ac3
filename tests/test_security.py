"""Security of a channel: logins and permissions at the broker (RabbitMQ's rules), taps on a
link that read, change and replay messages, and the HMAC tags, AEAD encryption and replay
guard that defend against them."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mqlab as mq
from mqlab import security

# (permission pattern, resource name, RabbitMQ permits it): its rule is an unanchored search
# (re:run with no anchors), and the empty pattern stands for "^$"
PERMISSION_CASES = [
    (".*", "orders", True),
    (".*", "", True),
    ("", "orders", False),
    ("", "", True),
    ("^$", "", True),
    ("orders", "orders", True),
    ("orders", "old-orders-2", True),  # not anchored: found inside the name
    ("^orders$", "old-orders-2", False),
    ("^orders", "orders.eu", True),
    ("^orders$", "orders.eu", False),
    ("^(orders|payments)$", "payments", True),
    ("^(orders|payments)$", "refunds", False),
    ("^amq\\.gen-.*", "amq.gen-abc", True),
    ("^amq.gen", "amqXgen", True),  # an unescaped dot matches anything
    ("^amq\\.gen", "amqXgen", False),
    ("^tenant-a-", "tenant-b-orders", False),
    ("tenant-a-|shared", "shared-logs", True),
    ("^(?!admin).*", "admin-queue", False),
]


@pytest.mark.parametrize("pattern, name, allowed", PERMISSION_CASES)
def test_permissions_follow_rabbitmqs_regular_expression_rules(pattern, name, allowed):
    assert security.permitted(pattern, name) is allowed


def test_passwords_are_kept_only_as_salted_hashes():
    salt, digest = security.hash_password("s3cret")
    salt2, digest2 = security.hash_password("s3cret")
    assert salt != salt2 and digest != digest2  # a salt each: equal passwords do not show
    assert security.password_ok("s3cret", salt, digest)
    assert not security.password_ok("S3cret", salt, digest)
    assert not security.password_ok(None, salt, digest)
    net = mq.Network()
    net.user("shop", "s3cret")
    assert "s3cret" not in repr(net.users["shop"]).lower()


def shop(**shop_login):
    net = mq.Network(seed=1)
    net.broker("hub")
    net.exchange("hub", "orders", "direct")
    net.queue("hub", "billing", dead_letter="rejected")
    net.bind("orders", "billing", "new")
    net.user("shop", "pw-shop", write="^orders$", read="^$")
    net.user("billing", "pw-bill", write="^$", read="^(billing|rejected)$")
    net.producer("web", interval=0.5, count=20, exchange="orders", routing_key="new",
                 payload=lambda i: {"order": i, "amount": 10 + i},
                 **({"user": "shop", "password": "pw-shop"} | shop_login))
    return net


def test_wrong_credentials_are_refused_and_nothing_they_send_gets_in():
    for login in ({"password": "guess"}, {"user": "nobody"}, {"user": None, "password": None}):
        net = shop(**login)
        net.consumer("bill", queue="billing", user="billing", password="pw-bill")
        run = net.run()
        denies = run.trace.filter(kind="deny")
        assert denies[0].msg == 0 and denies[0].peer == "web"
        assert "login refused" in denies[0].info
        assert not run.trace.filter(kind="enqueue")
        s = run.summary()
        assert s.account.dropped == {"denied": 20} and s.balanced


def test_a_consumer_without_read_permission_gets_nothing():
    net = shop()
    net.consumer("spy", queue="billing", user="shop", password="pw-shop")
    run = net.run(until=20)
    deny = run.trace.filter(kind="deny")[0]
    assert (deny.node, deny.peer, deny.msg) == ("billing", "spy", 0)
    assert "read from queue 'billing' refused for user 'shop'" in deny.info
    assert not run.trace.filter(kind="deliver") and run.summary().balanced


def test_publishing_to_an_exchange_outside_the_write_pattern_is_denied():
    net = shop()
    net.queue("hub", "audit")
    net.producer("intruder", interval=1, count=5, routing_key="audit", user="shop",
                 password="pw-shop")  # the default exchange, "amq.default", is not ^orders$
    net.consumer("bill", queue="billing", user="billing", password="pw-bill")
    run = net.run()
    refused = [e for e in run.trace.filter(kind="deny") if e.peer == "intruder"]
    assert len(refused) == 5
    assert "write to exchange 'amq.default' refused for user 'shop'" in refused[0].info
    assert not run.trace.filter(kind="enqueue", node="audit")
    assert run.summary().account.acked == 20


@st.composite
def guarded_systems(draw):
    names = ["orders", "orders-eu", "payments", "audit", "logs.app", "tmp"]
    patterns = st.sampled_from([".*", "", "^orders", "^orders$", "orders", "^(payments|audit)$",
                                "\\.app$", "^[a-o]", "eu"])
    net = mq.Network(seed=draw(st.integers(0, 1000)))
    net.broker("hub")
    exchanges = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    queues = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    for x in exchanges:
        net.exchange("hub", f"x-{x}", "fanout")
    for q in queues:
        net.queue("hub", q)
        for x in exchanges:
            net.bind(f"x-{x}", q)
    for i in range(3):
        net.user(f"u{i}", "pw", write=draw(patterns), read=draw(patterns))
    for i in range(draw(st.integers(1, 3))):
        exchange = f"x-{draw(st.sampled_from(exchanges))}"
        net.producer(f"p{i}", interval=0.3, count=5, exchange=exchange,
                     user=f"u{draw(st.integers(0, 2))}", password="pw")
    for i in range(draw(st.integers(1, 3))):
        net.consumer(f"c{i}", queue=draw(st.sampled_from(queues)), service=0.05,
                     user=f"u{draw(st.integers(0, 2))}", password="pw")
    return net


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(guarded_systems())
def test_a_denied_publish_or_consume_never_reaches_a_queue_or_a_consumer(net):
    run = net.run(until=10)
    user_of = {c: u for c, (u, _) in net.credentials.items()}
    denied_msgs = {e.msg for e in run.trace.filter(kind="deny") if e.msg}
    reached = {e.msg for e in run.trace.filter(kind=["enqueue", "deliver"])}
    assert not denied_msgs & reached
    for e in run.trace.filter(kind="publish"):
        exchange = net.producers[e.node].exchange or "amq.default"
        allowed = security.permitted(net.users[user_of[e.node]].write, exchange)
        assert (e.msg in denied_msgs) == (not allowed)
    for e in run.trace.filter(kind="deliver"):
        assert security.permitted(net.users[user_of[e.peer]].read, e.node)
    assert run.summary().balanced


def test_a_tampered_message_fails_its_hmac_and_is_dead_lettered_never_processed():
    key = mq.security.new_key()
    processed = []

    def tamper(msg):
        if msg.payload["order"] == 3:
            return {**msg.payload, "amount": 10_000}
        return None

    net = shop()
    net.producers["web"].headers = lambda p: {"x-hmac": mq.security.tag(key, p)}
    net.tap("web", "hub", tamper=tamper)
    net.consumer("bill", queue="billing", user="billing", password="pw-bill",
                 verify=lambda m: None if mq.security.verify(key, m.payload,
                                                              m.headers.get("x-hmac"))
                 else "bad HMAC: changed on the way",
                 handler=lambda m: processed.append(m.payload["order"]))
    net.consumer("inspector", queue="rejected", user="billing", password="pw-bill")
    run = net.run()
    tampered = run.trace.filter(kind="tamper")
    assert len(tampered) == 1
    mid = tampered[0].msg
    assert 3 not in processed and sorted(processed) == [i for i in range(20) if i != 3]
    kinds = [e.kind for e in run.trace.filter(msg=mid)]
    assert "deny" in kinds and "dead-letter" in kinds
    s = run.summary()
    assert s.dead_letters["rejected"]["entered"] == 1 and s.balanced
    assert s.account.acked == 20  # 19 honest ones, and the bad one acked from the dead letters


@pytest.mark.parametrize("sealed", [False, True])
def test_an_eavesdropper_reads_plain_payloads_and_only_ciphertext_when_sealed(sealed):
    key = mq.security.new_key()
    heard = []
    net = mq.Network(seed=2)
    net.broker("hub")
    net.queue("hub", "cards")
    make = (lambda i: mq.security.seal(key, {"card": f"4111-{i}"})) if sealed else (
        lambda i: {"card": f"4111-{i}"})
    net.producer("shop", interval=1, count=5, routing_key="cards", payload=make)
    net.tap("shop", "hub", observe=lambda m: heard.append(repr(m.payload)))
    opened = []
    net.consumer("bank", queue="cards", handler=lambda m: opened.append(
        mq.security.open_sealed(key, m.payload) if sealed else m.payload))
    net.run()
    assert len(heard) == 5 and opened == [{"card": f"4111-{i}"} for i in range(5)]
    assert any("4111" in h for h in heard) is (not sealed)


def test_one_flipped_bit_fails_authenticated_decryption():
    key = mq.security.new_key()
    sealed = mq.security.seal(key, {"amount": 10}, associated=b"payments")
    raw = bytearray(bytes.fromhex(sealed["ciphertext"]))
    for i in (0, len(raw) // 2, len(raw) - 1):
        flipped = bytearray(raw)
        flipped[i] ^= 0x01
        with pytest.raises(ValueError, match="authentication failed"):
            mq.security.open_sealed(key, {**sealed, "ciphertext": flipped.hex()},
                                    associated=b"payments")
    with pytest.raises(ValueError, match="authentication failed"):
        mq.security.open_sealed(key, sealed, associated=b"refunds")
    with pytest.raises(ValueError, match="authentication failed"):
        mq.security.open_sealed(mq.security.new_key(), sealed, associated=b"payments")
    assert mq.security.open_sealed(key, sealed, associated=b"payments") == {"amount": 10}


def test_a_replayed_message_is_refused_and_traced_and_no_honest_one_is_lost():
    guard = mq.security.ReplayGuard(window=5.0)
    net = shop()
    net.tap("web", "hub", replay=[(4.0, 2), (30.0, 5)])
    net.consumer("bill", queue="billing", user="billing", password="pw-bill",
                 verify=lambda m: guard.check(m.id, m.sent, m.delivered))
    run = net.run()
    replays = [e for e in run.trace.filter(kind="duplicate") if e.info == "replay"]
    assert [e.msg for e in replays] == [2, 5]
    refusals = [e for e in run.trace.filter(kind="deny") if e.node == "bill"]
    assert [e.msg for e in refusals] == [2, 5]
    assert "replayed" in refusals[0].info and "too old" in refusals[1].info
    acked = [e.msg for e in run.trace.filter(kind="ack")]
    assert sorted(acked) == list(range(1, 21))  # each honest message once
    assert run.summary().balanced


def test_a_rate_limit_stops_a_flood_and_keeps_honest_latency_low():
    def build(limit):
        net = mq.Network(seed=3)
        net.broker("hub")
        net.queue("hub", "jobs")
        net.user("honest", "pw")
        net.user("mallory", "pw", rate=2.0 if limit else None)
        net.producer("shop", interval=0.5, count=40, routing_key="jobs", user="honest",
                     password="pw")
        net.producer("flood", interval=0.01, count=2000, routing_key="jobs", user="mallory",
                     password="pw")
        net.consumer("worker", queue="jobs", service=0.05, user="honest", password="pw")
        return net.run(until=30)

    def honest_p99(run):
        sent = {e.msg for e in run.trace.filter(kind="publish", node="shop")}
        lat = [d for m, d in zip(*_latencies(run), strict=True) if m in sent]
        return mq.metrics.percentile(lat, 99)

    limited, open_door = build(True), build(False)
    assert honest_p99(limited) < 1.0 < honest_p99(open_door)
    refused = [e for e in limited.trace.filter(kind="deny") if e.peer == "flood"]
    assert len(refused) > 1500 and "rate limit" in refused[0].info
    assert limited.summary().balanced


def _latencies(run):
    """(message ids, publish -> ack seconds) of the acked messages."""
    start, ids, out = {}, [], []
    for e in run.trace:
        if e.kind == "publish":
            start.setdefault(e.msg, e.time)
        elif e.kind == "ack" and e.msg in start:
            ids.append(e.msg)
            out.append(e.time - start[e.msg])
    return ids, out


def test_replay_guard_forgets_old_ids_and_refuses_what_it_must():
    guard = mq.security.ReplayGuard(2.0)
    assert guard.check(1, sent=0.0, now=0.5) is None
    assert "replayed" in guard.check(1, sent=0.0, now=1.0)
    assert "too old" in guard.check(2, sent=0.0, now=3.0)
    assert guard.check(3, sent=2.5, now=3.0) is None and 1 not in guard.seen


def test_hmac_covers_the_fields_named_and_compares_in_constant_time():
    key = mq.security.new_key()
    t = mq.security.tag(key, {"a": 1}, routing_key="pay", id=7)
    assert mq.security.verify(key, {"a": 1}, t, routing_key="pay", id=7)
    assert not mq.security.verify(key, {"a": 1}, t, routing_key="refund", id=7)
    assert not mq.security.verify(key, {"a": 1}, t, routing_key="pay")  # a field left out
    assert not mq.security.verify(key, {"a": 1}, t.encode())  # bytes are not the hex tag
    assert re.fullmatch("[0-9a-f]{64}", t)


def test_security_bad_input_names_the_parameter():
    net = mq.Network()
    net.broker("hub")
    net.queue("hub", "q")
    with pytest.raises(ValueError, match="write must be a valid regular expression"):
        net.user("u", "pw", write="(")
    with pytest.raises(TypeError, match="read must be a regular expression"):
        net.user("u", "pw", read=None)
    with pytest.raises(TypeError, match="password must be a non-empty str"):
        net.user("u", "")
    with pytest.raises(ValueError, match="burst must be an int >= 1"):
        net.user("u", "pw", rate=1, burst=0)
    net.user("u", "pw")
    with pytest.raises(ValueError, match="user 'u' exists already"):
        net.user("u", "pw2")
    with pytest.raises(ValueError, match="password needs user"):
        net.producer("p", interval=1, password="pw")
    with pytest.raises(TypeError, match="verify must be a function"):
        net.consumer("c", queue="q", verify="hmac")
    net.producer("p", interval=1, routing_key="q")
    with pytest.raises(ValueError, match="replay must be a list of"):
        net.tap("p", "hub", replay=[3])
    with pytest.raises(TypeError, match="tamper must be None or a function"):
        net.tap("p", "hub", tamper="x")
    with pytest.raises(ValueError, match="source and target must be a producer and its broker"):
        net.tap("hub", "p")
    with pytest.raises(ValueError, match="key must be bytes, at least 16"):
        mq.security.tag(b"short", {})
    with pytest.raises(ValueError, match="window must be a number of seconds"):
        mq.security.ReplayGuard(0)
    with pytest.raises(ValueError, match="not a sealed message"):
        mq.security.open_sealed(mq.security.new_key(), {"nonce": "zz"})
