"""Operations: `/metrics` counts what the assistant did, and logs are JSON lines without what
families wrote.

A server pair of this module's own runs with the production profile's logging (JSON lines,
`RunSettings.json_logs`); families' messages carry a made-up name, phone number and sentence that
must never reach a log line or a metric.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import SAFETY_KINDS
from bot.nlu.safety import SAFETY_INTENTS
from bot.runtime.launcher import RunSettings, Servers
from tests.conftest import Conversation, server_settings

NAME, PHONE, SENTENCE = "Quintessa Marlowe", "(215) 555-0173", "zorbly wug flimflam"
PRIVATE = [NAME, "Quintessa", "Marlowe", "555-0173", "5550173", "0173", "zorbly", "flimflam"]


@pytest.fixture(scope="module")
def logged(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunSettings]:
    folder = tmp_path_factory.mktemp("observability")
    settings = server_settings(trained_model, folder)
    settings.json_logs = True
    with Servers(settings) as servers:
        servers.start(log_dir=folder)
        yield settings
    # Stopped: every line the servers wrote is in the logs now.


def metrics(settings: RunSettings) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `/metrics`, by name and labels."""
    import urllib.request

    with urllib.request.urlopen(f"{settings.url}/metrics", timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_the_safety_kinds_counted_are_the_safety_intents():
    assert set(SAFETY_KINDS) == SAFETY_INTENTS


def test_metrics_count_messages_latency_unplaced_safety_and_stored_requests(logged):
    before = metrics(logged)
    conversation = Conversation(logged)
    conversation.ask("what is mibg therapy")
    conversation.ask("my child has a fever of 39")
    conversation.ask(SENTENCE)
    conversation.ask("i would like a second opinion for my son")
    conversation.ask("yes")
    for answer in ("I'm his mom", NAME, PHONE, "skip", "weekday mornings", "Riverside", "yes"):
        reply = conversation.ask(answer)
    assert reply == ["utter_callback_saved"]
    after = metrics(logged)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("nb_messages_total", channel="rest") == 12
    assert grew("nb_message_seconds_count", channel="rest") == 12
    assert grew("nb_message_seconds_bucket", channel="rest", le="+Inf") == 12
    assert grew("nb_safety_escalations_total", kind="fever") == 1
    assert grew("nb_unplaced_messages_total", channel="rest") >= 1
    assert grew("nb_callback_requests_stored_total") == 1
    assert grew("nb_message_failures_total", channel="rest") == 0
    # Counts only: nothing a family wrote is in any metric's name or labels.
    exposed = json.dumps([key for key in after])
    assert not [word for word in PRIVATE if word in exposed]


def test_logs_are_json_lines_without_message_text_phone_or_name(logged, tmp_path_factory):
    conversation = Conversation(logged)
    conversation.ask(f"my name is {NAME} call me on {PHONE} {SENTENCE}")
    folder = Path(logged.tracker_db).parent
    lines = [
        line
        for log in ("rasa.log", "actions.log")
        for line in (folder / log).read_text(errors="replace").splitlines()
        if line.strip()
    ]
    records = []
    not_json = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            not_json.append(line)
    # TensorFlow's C++ runtime writes its own lines; everything Python logs is JSON.
    assert [
        line
        for line in not_json
        if not re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [EF] ", line)
    ] == []
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["logger"].startswith("rasa") for r in records)
    assert not [word for word in PRIVATE if word in "\n".join(lines)]
