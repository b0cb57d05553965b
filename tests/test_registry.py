"""Tests of the slave registry: registration, heartbeats, up/down/failing state."""

import time

import pytest

from master_service.registry import SlaveRecord, SlaveRegistry

HEARTBEAT_TIMEOUT_S = 15.0


@pytest.fixture
def registry() -> SlaveRegistry:
    return SlaveRegistry(heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S)


def test_register_new_slave(registry):
    """A first registration is new and keeps what the slave said."""
    slave, is_new = registry.register("10.0.0.5", 3000, ("image", "ocr"), 4)

    assert is_new is True
    assert (slave.address, slave.url) == ("10.0.0.5:3000", "http://10.0.0.5:3000")
    assert (slave.task_types, slave.workers) == (("image", "ocr"), 4)
    assert registry.is_usable(slave)


def test_register_again_refreshes_the_same_record(registry):
    """Registering the same ip:port again is not new and updates types and workers."""
    first, _ = registry.register("10.0.0.5", 3000, ("image",), 4)
    first.last_seen -= 100

    second, is_new = registry.register("10.0.0.5", 3000, ("text",), 2)

    assert is_new is False
    assert second is first
    assert (second.task_types, second.workers) == (("text",), 2)
    assert time.time() - second.last_seen < 1
    assert len(registry.snapshot()) == 1


def test_other_port_is_another_slave(registry):
    """Two slaves on one machine are told apart by port."""
    registry.register("10.0.0.5", 3000, ("image",), 1)
    _, is_new = registry.register("10.0.0.5", 3001, ("image",), 1)

    assert is_new is True
    assert [s["address"] for s in registry.snapshot()] == [
        "10.0.0.5:3000",
        "10.0.0.5:3001",
    ]


def test_ipv6_url_has_brackets():
    """An IPv6 address is bracketed in the URL."""
    slave = SlaveRecord("::1", 3000, ("image",), 1)

    assert slave.address == "::1:3000"
    assert slave.url == "http://[::1]:3000"


def test_heartbeat_of_unknown_slave_is_false(registry):
    """A heartbeat from an address never registered answers False."""
    registry.register("10.0.0.5", 3000, ("image",), 1)

    assert registry.heartbeat("10.0.0.5:3001") is False
    assert registry.heartbeat("10.0.0.5:3000") is True


def test_slave_is_down_after_heartbeat_timeout():
    """A slave silent for longer than the timeout is down, and up after a heartbeat."""
    registry = SlaveRegistry(heartbeat_timeout_s=0.2)
    slave, _ = registry.register("10.0.0.5", 3000, ("image",), 1)
    assert registry.snapshot()[0]["state"] == "up"

    time.sleep(0.3)
    assert registry.snapshot()[0]["state"] == "down"
    assert registry.is_usable(slave) is False
    assert registry.list_usable("image") == []

    registry.heartbeat(slave.address)
    assert registry.snapshot()[0]["state"] == "up"
    assert registry.list_usable("image") == [slave]


def test_state_by_last_seen(registry):
    """The state turns down once the silence exceeds the timeout."""
    slave, _ = registry.register("10.0.0.5", 3000, ("image",), 1)
    now = slave.last_seen

    assert slave.state(now + HEARTBEAT_TIMEOUT_S - 0.01, HEARTBEAT_TIMEOUT_S) == "up"
    assert slave.state(now + HEARTBEAT_TIMEOUT_S + 0.01, HEARTBEAT_TIMEOUT_S) == "down"


def test_failed_chunk_makes_slave_failing_until_next_heartbeat(registry):
    """After a failed chunk the slave is failing; its next heartbeat makes it up."""
    slave, _ = registry.register("10.0.0.5", 3000, ("image",), 1)
    registry.record_sent(slave, 2)

    registry.record_answer(slave, sent=2, done=0, chunk_failed=True)

    assert registry.snapshot()[0]["state"] == "failing"
    assert registry.is_usable(slave) is False
    assert registry.list_usable("image") == [slave]  # a request may wait for it

    time.sleep(0.01)
    registry.heartbeat(slave.address)
    assert registry.snapshot()[0]["state"] == "up"
    assert registry.is_usable(slave) is True


def test_register_again_clears_failing(registry):
    """A slave that registers again after failing is up."""
    slave, _ = registry.register("10.0.0.5", 3000, ("image",), 1)
    registry.record_answer(slave, sent=0, done=0, chunk_failed=True)

    registry.register("10.0.0.5", 3000, ("image",), 1)

    assert slave.failed_at is None
    assert registry.is_usable(slave) is True


def test_failing_slave_that_stops_heartbeating_is_down(registry):
    """Down wins over failing once the heartbeat timeout has passed."""
    slave, _ = registry.register("10.0.0.5", 3000, ("image",), 1)
    registry.record_answer(slave, sent=0, done=0, chunk_failed=True)

    slave.last_seen -= HEARTBEAT_TIMEOUT_S + 1

    assert registry.snapshot()[0]["state"] == "down"


def test_list_usable_filters_by_task_type_and_state(registry):
    """Slaves offering the type and not down are listed, most workers first."""
    small, _ = registry.register("10.0.0.1", 3000, ("image", "text"), 1)
    big, _ = registry.register("10.0.0.2", 3000, ("image",), 8)
    text_only, _ = registry.register("10.0.0.3", 3000, ("text",), 16)
    down, _ = registry.register("10.0.0.4", 3000, ("image",), 32)
    failing, _ = registry.register("10.0.0.5", 3000, ("image",), 64)
    down.last_seen -= HEARTBEAT_TIMEOUT_S + 1
    registry.record_answer(failing, sent=0, done=0, chunk_failed=True)

    assert registry.list_usable("image") == [failing, big, small]
    assert registry.list_usable("text") == [text_only, small]
    assert registry.list_usable("ocr") == []
    assert registry.list_offering("image") == [small, big, down, failing]


def test_list_usable_prefers_fewer_files_in_flight_among_equals(registry):
    """Slaves with the same worker count are ordered by files in flight."""
    busy, _ = registry.register("10.0.0.1", 3000, ("image",), 2)
    idle, _ = registry.register("10.0.0.2", 3000, ("image",), 2)
    registry.record_sent(busy, 3)

    assert registry.list_usable("image") == [idle, busy]


def test_record_sent_and_answer_count_files(registry):
    """In-flight files rise when sent and fall when answered; done and failures add."""
    slave, _ = registry.register("10.0.0.5", 3000, ("image",), 2)

    registry.record_sent(slave, 3)
    assert slave.files_in_flight == 3
    registry.record_answer(slave, sent=3, done=2, chunk_failed=False)
    registry.record_sent(slave, 1)
    registry.record_answer(slave, sent=1, done=0, chunk_failed=True)

    assert (slave.files_in_flight, slave.files_done, slave.failures) == (0, 2, 1)


def test_snapshot_fields(registry):
    """The snapshot describes each slave with its counters and state."""
    slave, _ = registry.register("10.0.0.5", 3000, ("image", "ocr"), 4)
    registry.record_sent(slave, 5)
    registry.record_answer(slave, sent=2, done=1, chunk_failed=False)
    slave.last_seen -= 2.04

    (entry,) = registry.snapshot()

    assert entry == {
        "address": "10.0.0.5:3000",
        "slave_ip": "10.0.0.5",
        "slave_port": 3000,
        "task_types": ["image", "ocr"],
        "workers": 4,
        "state": "up",
        "last_seen": slave.last_seen,
        "seconds_since_heartbeat": 2.0,
        "files_in_flight": 3,
        "files_done": 1,
        "failures": 0,
    }


def test_slave_working_on_a_chunk_is_not_down_without_heartbeats(registry):
    """A busy master may serve heartbeats late; a slave with work in flight stays up."""
    slave, _ = registry.register("10.0.0.5", 3000, ("image",), 1)
    assert registry.try_reserve(slave)
    slave.last_seen -= HEARTBEAT_TIMEOUT_S + 1
    assert registry.snapshot()[0]["state"] == "up"

    registry.release(slave)
    assert registry.snapshot()[0]["state"] == "down"


def test_slave_that_stopped_offering_a_type_is_not_usable_for_it(registry):
    """A slave re-registered without a task type is no longer used for it."""
    slave, _ = registry.register("10.0.0.5", 3000, ("image", "text"), 1)
    registry.register("10.0.0.5", 3000, ("text",), 1)
    assert registry.is_usable(slave, "image") is False
    assert registry.is_usable(slave, "text") is True
