"""Conversations survive a restart: the SQLite tracker store keeps them."""

from __future__ import annotations

from bot.runtime.launcher import Servers
from tests.conftest import Conversation, server_settings


def test_a_restart_does_not_lose_an_open_conversation(trained_model, tmp_path):
    settings = server_settings(trained_model, tmp_path)
    conversation = Conversation(settings)
    with Servers(settings) as servers:
        servers.start(log_dir=tmp_path)
        assert conversation.ask("what is mibg") == ["utter_disclaimer", "utter_mibg"]

    with Servers(settings) as servers:
        servers.start(log_dir=tmp_path)
        # Same session: no second disclaimer, and the earlier turns are still in the tracker.
        assert conversation.ask("why the special room") == ["utter_mibg_room"]
        names = [e["metadata"]["utter_action"] for e in conversation.bot_events()]
        assert names == ["utter_disclaimer", "utter_mibg", "utter_mibg_room"]
