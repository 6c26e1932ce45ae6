"""The chat's messages as the page draws them: live replies, and the history after a reload.

Each bot message carries its response's buttons and `metadata.provenance` (the source page the
wording came from), so the page can show where an answer comes from.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

from bot.channels.buttons import Button


class ChatMessage(TypedDict):
    """One message of the conversation as the page draws it."""

    sender: Literal["user", "bot"]
    text: str
    buttons: list[Button]
    provenance: list[str]
    # The answer's language (bot.runtime.nlg marks it); "" for the family's own messages.
    language: str


class ChatError(TypedDict):
    """A refused request: a machine-readable reason and a sentence for the family."""

    error: str
    message: str


class WebOutput(CollectingOutputChannel):
    """Collects the bot's messages with their buttons and `metadata.provenance`."""

    @classmethod
    def name(cls) -> str:
        """Name of the output channel."""
        return "web"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Keeps a message whole (paragraphs included) with its provenance."""
        self.messages.append(bot_message(text, [], kwargs.get("metadata")))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Keeps the text, the buttons and the response's provenance."""
        self.messages.append(bot_message(text, buttons, kwargs.get("metadata")))


def bot_message(text: str, buttons: Any, metadata: Any) -> ChatMessage:
    """A bot message from a response's text, buttons and `metadata` mapping."""
    metadata = metadata if isinstance(metadata, dict) else {}
    provenance = metadata.get("provenance")
    return ChatMessage(
        sender="bot",
        text=text or "",
        buttons=[Button(title=str(b["title"]), payload=str(b["payload"])) for b in buttons or []],
        provenance=[str(p) for p in provenance or []],
        language=str(metadata.get("language") or "en"),
    )


def history(events: list[Any]) -> list[ChatMessage]:
    """The user and bot messages of tracker events, in the order the page first showed them.

    A pressed button shows as its title. The disclaimer that opens a session is stored before
    the message that started it; it is drawn after that message, as it was when it arrived.
    """
    titles: dict[str, str] = {}
    messages: list[ChatMessage] = []
    opening: list[ChatMessage] | None = None  # bot messages of a session start, held back
    for event in events:
        if isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME:
            opening = []
        elif isinstance(event, BotUttered):
            message = bot_message(
                event.text, event.data.get("buttons"), event.metadata.get("metadata")
            )
            titles.update({b["payload"]: b["title"] for b in message["buttons"]})
            (messages if opening is None else opening).append(message)
        elif isinstance(event, UserUttered) and event.text is not None:
            text = titles.get(event.text, event.text)
            messages.append(
                ChatMessage(sender="user", text=text, buttons=[], provenance=[], language="")
            )
            messages.extend(opening or [])
            opening = None
    return messages + (opening or [])
