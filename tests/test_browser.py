"""The website chat in real headless Chromium: the page, the widget, failures, accessibility.

Runs against the session's assistant (real Rasa and action servers); the stopped-server test
starts a short-lived pair of its own. Screenshots go to reports/screenshots/ (git-ignored).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from bot import paths
from bot.center.config import center_config
from bot.channels.web.channel import WebSettings
from bot.channels.web.page import WEB_DIR
from bot.runtime.launcher import RunSettings, Servers
from tests.browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    WAIT_MS,
    ChatPage,
    playwright_installed,
)
from tests.conftest import Conversation, free_port, http_json, require

SETTINGS = WebSettings.parse(
    yaml.safe_load(paths.CREDENTIALS.read_text())["bot.channels.web.WebInput"]
)
CONFIG = center_config().values
HTML_MESSAGE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (skips with the reason if missing)."""
    require(playwright_installed(), "Playwright for Python is not installed")
    require(CHROMIUM.exists(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Opens pages in fresh browser profiles (no shared storage) of a given viewport."""
    contexts = []

    def open_page(width: int = 1280, height: int = 800, context: Any = None, **options) -> Any:
        if context is None:
            context = browser.new_context(viewport={"width": width, "height": height}, **options)
            contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def chat(new_page: Callable[..., Any], assistant: RunSettings) -> ChatPage:
    """The chat page of the session's assistant, at 1280 px wide."""
    return ChatPage(new_page(), assistant.url).open()


def answers(assistant: RunSettings, *messages: str) -> list[str]:
    """What the assistant answers to these messages over the REST channel, as texts."""
    conversation = Conversation(assistant)
    return [m["text"] for text in messages for m in conversation.say(text)]


def error_shown_with_phone_lines(chat: ChatPage) -> str:
    """The visible error; fails unless it gives the care team's line and the emergency number."""
    error = chat.scope.locator("#error")
    error.wait_for(state="visible", timeout=WAIT_MS)
    text = error.inner_text()
    assert CONFIG["phone_existing_patients"] in text
    assert CONFIG["emergency_number"] in text
    return text


# --- a conversation ----------------------------------------------------------------------------


def test_a_question_gets_the_assistants_answer(chat, assistant):
    new = chat.ask("what is mibg therapy")
    assert new == answers(assistant, "what is mibg therapy")  # the disclaimer, then the answer
    assert chat.transcript()[0] == ("user", "what is mibg therapy")
    assert chat.buttons("Why the special room?").count() == 1
    log = chat.page.locator("#log")
    assert log.get_attribute("role") == "log" and log.get_attribute("aria-live") == "polite"
    assert chat.page.locator("#log .from-bot").count() == 2  # announced: inside the live log


def test_a_button_sends_its_payload(chat, assistant):
    chat.ask("what is mibg therapy")
    new = chat.press_button("Why the special room?")
    assert new == answers(assistant, "what is mibg therapy", "/ask_mibg_room")[-1:]
    assert chat.transcript()[-2] == ("user", "Why the special room?")


def test_a_reload_and_a_second_tab_continue_the_conversation(chat, new_page):
    chat.ask("what is mibg therapy")
    chat.press_button("Why the special room?")
    before = chat.transcript()
    chat.page.reload()
    chat.wait_for_history()
    assert chat.transcript() == before
    tab = ChatPage(new_page(context=chat.page.context), chat.base_url).open()
    assert tab.transcript() == before
    assert len(tab.ask("who is on the team")) == 1  # the same session: no second disclaimer
    assert tab.transcript()[: len(before)] == before


def test_the_emergency_path_and_the_emergency_line_stay_in_view(chat, assistant):
    chat.ask("what is mibg therapy")
    chat.press_button("Why the special room?")
    new = chat.ask("my son is not breathing")
    assert new[-1] == answers(assistant, "my son is not breathing")[-1]
    assert CONFIG["emergency_number"] in new[-1] and CONFIG["phone_existing_patients"] in new[-1]
    strip = chat.page.locator("#emergency")
    box, viewport = strip.bounding_box(), chat.page.viewport_size
    assert strip.is_visible() and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]
    assert f"In an emergency call {CONFIG['emergency_number']}" in strip.inner_text()
    assert strip.locator("a").first.get_attribute("href") == f"tel:{CONFIG['emergency_number']}"


def test_a_message_with_html_shows_as_text(chat):
    dialogs = []
    chat.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    chat.ask(HTML_MESSAGE)
    assert chat.transcript()[0] == ("user", HTML_MESSAGE)
    assert chat.page.evaluate("document.images.length") == 0
    chat.page.reload()
    chat.wait_for_history()
    assert chat.transcript()[0] == ("user", HTML_MESSAGE)
    assert chat.page.evaluate("document.images.length") == 0
    assert dialogs == []


def test_the_page_runs_without_script_errors_or_policy_violations(new_page, assistant):
    page = new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    chat = ChatPage(page, assistant.url).open()
    chat.ask("what is relapse")
    chat.press_button("How often does this happen?")
    assert problems == []


def test_new_chat_starts_a_new_conversation(chat):
    chat.ask("what is mibg therapy")
    chat.page.once("dialog", lambda dialog: dialog.accept())
    chat.page.get_by_role("button", name="New chat").click()
    assert chat.transcript() == []
    assert len(chat.ask("what is relapse")) == 2  # a new session opens with the disclaimer


def test_delete_this_conversation_erases_it_here_and_on_the_server(chat, assistant):
    chat.ask("my son Theo relapsed in march, what happens now")
    session = chat.page.evaluate("() => localStorage.getItem('nb-chat-session')")
    sender = f"web-{session}"
    tracker_url = assistant.api(f"/conversations/{sender}/tracker")
    assert "Theo" in str(http_json(tracker_url)["events"])

    dialogs: list[str] = []

    def decide(dialog: Any, accept: bool) -> None:
        dialogs.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    delete = chat.page.get_by_role("button", name="Delete this conversation")
    chat.page.once("dialog", lambda dialog: decide(dialog, accept=False))
    delete.click()
    assert "callback request you already sent is kept" in dialogs[0]
    assert chat.transcript() != []  # "Cancel" keeps everything

    chat.page.once("dialog", lambda dialog: decide(dialog, accept=True))
    delete.click()
    status = chat.page.locator("#typing")
    status.filter(has_text="was deleted").wait_for(timeout=WAIT_MS)
    assert status.get_attribute("role") == "status"  # announced to screen readers
    assert chat.transcript() == []
    assert chat.page.evaluate("() => localStorage.getItem('nb-chat-session')") is None
    assert "Theo" not in str(http_json(tracker_url)["events"])
    chat.page.reload()
    chat.wait_for_history()
    assert chat.transcript() == []


# --- bad input and failures --------------------------------------------------------------------


def test_an_over_long_message_is_refused_and_kept(chat):
    text = "a" * (SETTINGS.max_message_length + 1)
    chat.try_to_send(text)
    assert f"{SETTINGS.max_message_length:,} characters" in error_shown_with_phone_lines(chat)
    assert chat.page.locator("#message").input_value() == text
    assert chat.transcript() == []


def test_a_typing_indicator_shows_while_the_answer_is_on_its_way(chat):
    held = []
    chat.page.route("**/webhooks/web/message", lambda route: held.append(route))
    chat.scope.locator("#message").fill("what is relapse")
    chat.scope.locator("#message").press("Enter")
    typing = chat.page.locator("#typing")
    typing.get_by_text("The assistant is writing").wait_for(timeout=WAIT_MS)
    assert typing.get_attribute("role") == "status"
    assert chat.transcript() == [("user", "what is relapse")]
    assert chat.page.locator("#message").input_value() == ""
    for _ in range(WAIT_MS // 50):  # until Playwright has handed over the held request
        if held:
            break
        chat.page.wait_for_timeout(50)
    chat.answer_to(held[0].continue_)
    assert typing.inner_text() == "" and len(chat.bot_texts()) == 2


def test_a_slow_answer_ends_in_an_error_and_keeps_the_message(chat):
    held = []
    chat.page.route("**/webhooks/web/message", lambda route: held.append(route))  # never answered
    chat.page.evaluate("document.querySelector('#chat').dataset.timeoutMs = '500'")
    chat.try_to_send("what is relapse")
    assert "taking too long" in error_shown_with_phone_lines(chat)
    assert chat.page.locator("#message").input_value() == "what is relapse"
    assert chat.transcript() == [] and len(held) == 1


def test_a_late_answer_is_shown_when_it_arrives_and_the_family_is_told_not_to_resend(
    chat, assistant
):
    # Issue 12: the page gave up after 20 s and the family sent their "yes" again. The server
    # goes on with the message; the page says so and draws the answer from the history.
    chat.ask("what is relapse")
    late = []

    def reaches_the_server_but_answers_late(route: Any) -> None:
        late.append(route.fetch())  # the server answers; the page is never told

    chat.page.route("**/webhooks/web/message", reaches_the_server_but_answers_late)
    chat.page.evaluate("document.querySelector('#chat').dataset.timeoutMs = '500'")
    chat.scope.locator("#message").fill("what is mibg therapy")
    chat.scope.locator("#message").press("Enter")
    chat.page.get_by_text("it may already be saved").wait_for(timeout=WAIT_MS)
    assert "don't send it again" in chat.error_text()
    expected = answers(assistant, "what is mibg therapy")[-1]
    chat.page.locator(".from-bot > .text", has_text=expected[:40]).wait_for(timeout=WAIT_MS)
    assert ("user", "what is mibg therapy") in chat.transcript()
    assert chat.error_text() == ""
    assert chat.page.locator("#message").input_value() == ""


def test_a_stopped_server_shows_the_error_with_the_phone_line(new_page, trained_model, tmp_path):
    settings = RunSettings(
        port=free_port(),
        action_port=free_port(),
        model=trained_model,
        tracker_db=tmp_path / "tracker.db",
    )
    with Servers(settings) as servers:
        servers.start(log_dir=tmp_path)
        chat = ChatPage(new_page(375, 812), settings.url).open()
        assert len(chat.ask("what is relapse")) == 2
        servers.stop()
        chat.try_to_send("how is it treated")
        text = error_shown_with_phone_lines(chat)
    assert "can't reach the assistant" in text and "still in the box" in text
    assert chat.page.locator("#message").input_value() == "how is it treated"
    assert chat.transcript()[-1][0] == "bot"  # the unsent message is not shown as sent
    chat.screenshot("chat-error-375")


# --- keyboard, small screens, accessibility ------------------------------------------------------


def test_the_chat_works_with_the_keyboard_alone(chat):
    keyboard = chat.page.keyboard

    def tab_to(condition: str, limit: int = 40) -> None:
        for _ in range(limit):
            keyboard.press("Tab")
            if chat.page.evaluate(
                f"(() => {{ const el = document.activeElement; return {condition}; }})()"
            ):
                return
        pytest.fail(f"Tab never reached an element where {condition}")

    tab_to("el.id === 'message'")
    keyboard.type("what is mibg")
    keyboard.press("Shift+Enter")  # a new line, not a send
    assert chat.page.locator("#message").input_value() == "what is mibg\n"
    keyboard.press("Backspace")
    chat.answer_to(lambda: keyboard.press("Enter"))
    tab_to("el.classList.contains('choice') && el.textContent === 'Why the special room?'")
    outline = chat.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # a visible focus style
    chat.answer_to(lambda: keyboard.press("Enter"))
    assert chat.transcript()[-2] == ("user", "Why the special room?")


@pytest.mark.parametrize("width", [320, 375])
def test_the_page_fits_a_small_phone(new_page, assistant, width):
    chat = ChatPage(new_page(width, 640), assistant.url).open()
    chat.ask("what is mibg therapy")
    page = chat.page
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for selector in ("#emergency", "#message", "#send"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, selector
        assert box["y"] >= 0 and box["y"] + box["height"] <= 640, selector


@pytest.mark.parametrize("width", [375, 1280])
def test_axe_finds_no_serious_or_critical_problems(new_page, assistant, width):
    from axe_playwright_python.sync_playwright import Axe

    chat = ChatPage(new_page(width, 800), assistant.url).open()
    chat.ask("what is mibg therapy")
    chat.press_button("Why the special room?")
    chat.try_to_send("a" * (SETTINGS.max_message_length + 1))  # an error on the page too
    violations = Axe().run(chat.page).response["violations"]
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []


@pytest.mark.parametrize(("width", "height"), [(375, 812), (1280, 800)])
def test_screenshots(new_page, assistant, width, height):
    chat = ChatPage(new_page(width, height), assistant.url).open()
    chat.ask("what is mibg therapy")
    chat.press_button("Why the special room?")
    chat.ask("my son is not breathing")
    assert chat.screenshot(f"chat-{width}").stat().st_size > 0


# --- the widget ----------------------------------------------------------------------------------


def open_host_page(new_page: Callable[..., Any], assistant: RunSettings, origin: str, **size: int):
    """The example host page, served as if from `origin`, pointing at the assistant.

    Chromium counts a page answered by route interception as a public one, and asks before it
    reaches a loopback address (Local Network Access); the permission stands in for a center's
    site and the assistant on the same kind of network.
    """
    page = new_page(**size, permissions=["local-network-access"])
    host = (WEB_DIR / "example.html").read_text().replace("http://127.0.0.1:5005", assistant.url)
    url = f"{origin}/example.html"
    page.route(url, lambda route: route.fulfill(body=host, content_type="text/html"))
    page.goto(url)
    return page


def open_widget(page: Any) -> Any:
    """Clicks the widget's button; returns the chat frame once it has loaded."""
    page.get_by_role("button", name="Chat with our assistant").click()
    frame = page.locator("iframe.nbchat-frame").element_handle(timeout=WAIT_MS).content_frame()
    frame.wait_for_load_state()
    return frame


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (375, 812)])
def test_the_widget_adds_the_chat_to_a_host_page(new_page, assistant, width, height):
    page = open_host_page(
        new_page, assistant, SETTINGS.allowed_origins[0], width=width, height=height
    )
    launcher = page.locator("#nbchat-launcher")
    assert launcher.get_attribute("aria-expanded") == "false"
    frame = open_widget(page)
    assert launcher.get_attribute("aria-expanded") == "true"
    chat = ChatPage(page, assistant.url, frame)
    chat.wait_for_history()
    assert frame.evaluate("document.activeElement.id") == "message"  # focus moved into the chat
    assert len(chat.ask("what is mibg therapy")) == 2
    chat.screenshot(f"widget-{width}")
    frame.locator("#message").press("Escape")
    page.locator("#nbchat-panel").wait_for(state="hidden", timeout=WAIT_MS)
    assert page.evaluate("document.activeElement.id") == "nbchat-launcher"


def test_the_widget_cannot_be_framed_by_a_site_not_allowed(new_page, assistant):
    page = open_host_page(new_page, assistant, "http://localhost:1")
    frame = open_widget(page)
    assert frame.locator("#message").count() == 0
    assert not re.match(re.escape(assistant.url), frame.url)


# --- in Spanish ----------------------------------------------------------------------------------


def test_a_spanish_conversation_switches_the_page_and_back(new_page, assistant):
    """The issue's walk: a MIBG question in Spanish, a follow-up button, English and back, and
    an emergency, with the page's own words and `lang` following; screenshots for the note."""
    from axe_playwright_python.sync_playwright import Axe

    chat = ChatPage(new_page(375, 812), assistant.url).open()
    page = chat.page
    new = chat.ask("¿qué es la terapia con MIBG para mi hijo?")
    assert "I-131 MIBG" in new[-1] and "medicamento" in new[-1]
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("h1").inner_text() == "Asistente para familias"
    assert "En una emergencia llame al" in page.locator("#emergency").inner_text()
    assert page.locator("#message").get_attribute("placeholder") == "Escriba su pregunta"
    assert page.locator(".from-bot").last.get_attribute("lang") == "es"
    new = chat.press_button("¿Por qué el cuarto especial?")
    assert new and "cuarto" in new[-1]
    english = chat.answer_to(lambda: page.locator("#language").click())
    assert english[-1].startswith("Okay, I will answer in English")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#language").inner_text() == "Español"
    spanish = chat.answer_to(lambda: page.locator("#language").click())
    assert spanish[-1].startswith("De acuerdo, le responderé en español")
    assert page.locator("html").get_attribute("lang") == "es"
    new = chat.ask("mi hijo no respira!!")
    assert CONFIG["emergency_number"] in new[-1] and "ahora" in new[-1]
    chat.screenshot("chat-es-375")
    violations = Axe().run(page).response["violations"]
    serious = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == []
    page.reload()
    chat.wait_for_history()
    assert page.locator("html").get_attribute("lang") == "es"


def test_a_refusal_is_said_in_the_pages_language(new_page, assistant):
    # The real server refuses the session's message over the rate limit with an English
    # sentence; a Spanish page says it in Spanish, from the refusal's reason code.
    chat = ChatPage(new_page(375, 812), assistant.url).open()
    chat.ask("¿qué es una recaída?")
    assert chat.page.locator("html").get_attribute("lang") == "es"
    too_long = "a" * (SETTINGS.max_message_length + 1)  # refused fast, but counted
    statuses = chat.page.evaluate(
        """async ([text, times]) => {
            const session = localStorage.getItem('nb-chat-session');
            const statuses = [];
            for (let i = 0; i < times; i++) {
                const response = await fetch('/webhooks/web/message', {
                    method: 'POST',
                    headers: {'Content-Type': 'application/json'},
                    body: JSON.stringify({session: session, message: text}),
                });
                statuses.push(response.status);
            }
            return statuses;
        }""",
        [too_long, SETTINGS.rate_limit_messages - 1],
    )
    assert set(statuses) == {413}
    chat.try_to_send("¿cuánto dura la estancia?")
    error = chat.error_text()
    assert "Envió muchos mensajes en poco tiempo" in error and "many messages" not in error
    assert chat.page.locator("#message").input_value() == "¿cuánto dura la estancia?"


# --- the staff dashboard ---------------------------------------------------------------------


def _serious(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def test_staff_sign_in_is_refused_then_the_dashboard_shows_and_passes_axe(
    new_page, assistant, monkeypatch
):
    from tests.test_staff import PASSWORD, staff_account

    answers(assistant, "what is mibg therapy", "zxqv wibble plonk", "my child has a fever")
    name = staff_account(assistant, monkeypatch)
    page = new_page(1280, 900)
    origins: set[str] = set()
    page.on("request", lambda request: origins.add(request.url.split("/staff")[0]))
    page.goto(f"{assistant.url}/staff")
    assert page.url.endswith("/staff/login")  # no session: sent to the sign-in page
    page.fill("#username", name)
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert "wrong" in page.locator("[role=alert]").inner_text()
    assert _serious(page) == []

    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h2#conversations", timeout=WAIT_MS)
    assert page.url.endswith("/staff")
    # The charts are drawn, by the dashboard itself.
    page.wait_for_function("() => [...document.images].every((i) => i.complete)", timeout=WAIT_MS)
    widths = page.evaluate(
        "() => [...document.querySelectorAll('img.chart')].map((i) => i.naturalWidth)"
    )
    assert len(widths) == 2 and all(width > 0 for width in widths)
    assert _serious(page) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "staff-dashboard-1280.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    assert origins == {assistant.url}  # no third-party request
