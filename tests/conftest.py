"""Shared pytest fixtures."""

from __future__ import annotations

import os

import pytest


def skip_or_fail(reason: str, require_var: str) -> None:
    """Skip a test whose system service is missing, or fail it when ``require_var=1`` is set.

    Students' laptops may lack Chromium or RabbitMQ, so those tests skip there; CI sets
    ``MQLAB_REQUIRE_BROWSER=1`` / ``MQLAB_REQUIRE_BROKER=1`` so that nothing is skipped silently.
    """
    if os.environ.get(require_var) == "1":
        pytest.fail(f"{reason} (and {require_var}=1 is set)", pytrace=False)
    pytest.skip(reason)


# --- real browser ---------------------------------------------------------------------------

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the Chromium that Playwright drives; skips (or fails) when it cannot."""
    from lab import chromium_path

    path = chromium_path()
    if path is None:
        skip_or_fail(
            "Chromium is not installed (Debian/Ubuntu: apt-get install chromium)",
            "MQLAB_REQUIRE_BROWSER",
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail(
            "the playwright package is missing (pip install -e '.[test]')", "MQLAB_REQUIRE_BROWSER"
        )
    return path


@pytest.fixture
def browser(chromium):
    """A headless Chromium driven by Playwright (closed after the test)."""
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        except Error as exc:
            skip_or_fail(f"Chromium ({chromium}) does not start: {exc}", "MQLAB_REQUIRE_BROWSER")
        yield browser
        browser.close()


# --- real RabbitMQ (tests marked `broker`) ----------------------------------------------------
# One private broker for the whole session, started by mqlab.rabbit_server (loopback only, in a
# temporary directory) when rabbitmq-server is installed, and stopped at the end. Its teardown
# checks that nothing it started is left running or listening.


def require_broker() -> None:
    """Skip (or fail) a test that starts a real RabbitMQ where it cannot: rabbitmq-server or
    the pika package missing."""
    from mqlab.rabbit_server import installed

    if not installed():
        skip_or_fail("rabbitmq-server is not installed (Debian/Ubuntu: apt-get install "
                     "rabbitmq-server)", "MQLAB_REQUIRE_BROKER")
    try:
        import pika  # noqa: F401
    except ImportError:
        skip_or_fail("the pika package is missing (pip install -e .)",
                     "MQLAB_REQUIRE_BROKER")


@pytest.fixture(scope="session")
def rabbitmq_server():
    """A running :class:`mqlab.rabbit_server.RabbitServer`; skips (or fails) when it cannot."""
    from mqlab.rabbit_server import BrokerStartError, RabbitServer, listening

    require_broker()
    server = RabbitServer()
    try:
        server.start()
    except BrokerStartError as exc:
        skip_or_fail(f"RabbitMQ does not start: {exc}", "MQLAB_REQUIRE_BROKER")
    pids, ports = server.pids, server.ports
    yield server
    server.stop()
    from mqlab.rabbit_server import alive

    left = [p for p in pids if alive(p)]
    busy = [(a, p) for a, p, _ in listening() if p in ports]
    assert not left and not busy, f"left running: pids {left}, listening {busy}"


@pytest.fixture
def rabbitmq_url(rabbitmq_server) -> str:
    """The AMQP URL of the session's private broker."""
    return rabbitmq_server.url
