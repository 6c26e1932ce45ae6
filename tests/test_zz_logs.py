"""The logs of every server this test run started hold no family's details and no secret.

pytest runs test files in name order, so this one runs after the others (`make test`): by then
the session's assistant and every short-lived server pair have written their logs under pytest's
temporary folder. The details are the ones the tests typed into the callback form.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SMS_SENDER_KEY, STAFF_SESSION_KEY, TWILIO_AUTH_TOKEN
from tests.test_store_less import EMAIL, HOSPITAL, NAME, PHONE_FORMS

FAMILY_DETAILS = (
    NAME,
    EMAIL,
    HOSPITAL,
    *PHONE_FORMS,
    "Maria Lopez",  # tests/test_callback.py
    "maria.lopez@example.org",
    "555-0142",
    "2155550142",
    "Robin",
)


def test_no_server_log_holds_a_family_detail_or_a_secret(
    assistant, tmp_path_factory: pytest.TempPathFactory
) -> None:
    logs = sorted(Path(tmp_path_factory.getbasetemp()).rglob("*.log"))
    assert any(log.name == "rasa.log" for log in logs)  # the servers' logs are there
    secrets = (TWILIO_AUTH_TOKEN, SMS_SENDER_KEY, STAFF_SESSION_KEY, assistant.api_token)
    found = [
        (log.relative_to(tmp_path_factory.getbasetemp()), needle)
        for log in logs
        for needle in (*FAMILY_DETAILS, *secrets)
        if needle in log.read_text(errors="replace")
    ]
    assert found == []
