"""Headless Chromium for the browser tests, and the chat page as the tests use it.

Debian's `chromium` package is driven by Playwright for Python through `executable_path`;
nothing is downloaded (`playwright install` is never needed).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.paths import ROOT

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "reports" / "screenshots"
# How long to wait for something to appear: a guard against a hung test, never a measurement.
WAIT_MS = 120_000

# True once the last request has been answered: no typing indicator, no message in flight.
_SETTLED = (
    "() => !document.querySelector('#typing').textContent && !document.querySelector('.pending')"
)


def playwright_installed() -> bool:
    """Whether the playwright package can be imported."""
    return importlib.util.find_spec("playwright") is not None


class ChatPage:
    """The /chat page (or the widget's frame), driven the way a parent uses it."""

    def __init__(self, page: Any, base_url: str, frame: Any = None) -> None:
        self.page = page
        self.base_url = base_url
        self.scope = frame or page  # the page itself, or the widget's iframe

    def open(self) -> ChatPage:
        """Loads /chat and waits until an earlier conversation, if any, is drawn."""
        self.page.goto(f"{self.base_url}/chat")
        self.wait_for_history()
        return self

    def wait_for_history(self) -> None:
        """Waits until the page has asked for the earlier conversation and drawn it."""
        self.scope.wait_for_function(
            "() => document.querySelector('#log').getAttribute('aria-busy') !== 'true'",
            timeout=WAIT_MS,
        )

    def answer_to(self, act: Callable[[], Any]) -> list[str]:
        """Does `act` (a key press, a click), waits for the answer; returns the new bot texts."""
        before = self.scope.locator(".from-bot").count()
        act()
        self.scope.wait_for_function(
            f"n => document.querySelectorAll('.from-bot').length > n && ({_SETTLED})()",
            arg=before,
            timeout=WAIT_MS,
        )
        return self.bot_texts()[before:]

    def ask(self, text: str) -> list[str]:
        """Types a message, presses Enter, waits for the answer; returns the new bot texts."""

        def act() -> None:
            self.scope.locator("#message").fill(text)
            self.scope.locator("#message").press("Enter")

        return self.answer_to(act)

    def press_button(self, title: str) -> list[str]:
        """Clicks the last suggestion button with this title; returns the new bot texts."""
        return self.answer_to(lambda: self.buttons(title).last.click())

    def try_to_send(self, text: str) -> None:
        """Types a message and presses Enter, then waits until the page stops waiting."""
        self.scope.locator("#message").fill(text)
        self.scope.locator("#message").press("Enter")
        self.scope.wait_for_function(_SETTLED, timeout=WAIT_MS)

    def buttons(self, title: str) -> Any:
        """The suggestion buttons with this title."""
        return self.scope.get_by_role("button", name=title, exact=True)

    def bot_texts(self) -> list[str]:
        """The text of every bot message, in order."""
        return self.scope.locator(".from-bot > .text").all_text_contents()

    def transcript(self) -> list[tuple[str, str]]:
        """Every message as (sender, text), in order."""
        pairs = self.scope.locator("#log .message").evaluate_all(
            "nodes => nodes.map(n => [n.classList.contains('from-bot') ? 'bot' : 'user',"
            " n.querySelector('.text').textContent])"
        )
        return [(sender, text) for sender, text in pairs]

    def error_text(self) -> str:
        """The error shown to the family, or an empty string."""
        return self.scope.locator("#error").inner_text()

    def screenshot(self, name: str) -> Path:
        """Saves a screenshot of the page to reports/screenshots/<name>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path
