"""The permission table of tests/test_security.py, played on a real RabbitMQ: a user whose
write permission is each pattern publishes to an exchange of each name."""

import pytest
from test_security import PERMISSION_CASES

pytestmark = pytest.mark.broker

# names that can be exchanges on a real broker ("" is the default exchange: see below)
CASES = [(p, n, ok) for p, n, ok in PERMISSION_CASES if n and not n.startswith("amq.")]


def publish_allowed(url: str, user: str, exchange: str) -> bool:
    import pika

    params = pika.URLParameters(url.replace("guest:guest", f"{user}:pw"))
    conn = pika.BlockingConnection(params)
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_publish(exchange, "k", b"x")
        return True
    except pika.exceptions.ChannelClosedByBroker as exc:
        assert exc.reply_code == 403
        return False
    finally:
        if conn.is_open:
            conn.close()


@pytest.fixture(scope="module")
def broker(rabbitmq_server):
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_server.url))
    ch = conn.channel()
    names = sorted({n for _, n, _ in CASES})
    for name in names:
        ch.exchange_declare(name, "fanout")
    rabbitmq_server.ctl("add_user", "mqlab-perm", "pw")
    yield rabbitmq_server
    for name in names:
        ch.exchange_delete(name)
    conn.close()
    rabbitmq_server.ctl("delete_user", "mqlab-perm")


def test_the_permission_table_holds_on_a_real_broker(broker):
    from mqlab import security

    seen = []
    for pattern in sorted({p for p, _, _ in CASES}):
        broker.ctl("set_permissions", "-p", "/", "mqlab-perm", ".*", pattern, ".*")
        for p, name, expected in CASES:
            if p == pattern:
                got = publish_allowed(broker.url, "mqlab-perm", name)
                assert got is expected is security.permitted(pattern, name), (pattern, name)
                seen.append(got)
    assert True in seen and False in seen


@pytest.mark.parametrize("pattern, allowed", [("^$", False), ("^amq\\.default$", True),
                                              ("^orders$", False), ("", False)])
def test_the_default_exchange_is_checked_as_amq_default(broker, pattern, allowed):
    from mqlab import security

    broker.ctl("set_permissions", "-p", "/", "mqlab-perm", ".*", pattern, ".*")
    assert publish_allowed(broker.url, "mqlab-perm", "") is allowed
    assert security.permitted(pattern, "amq.default") is allowed
