"""The chat page and its files: center details rendered into chat.html, and the page's policy.

The page is rendered once, when the channel starts, from assets/chat.html and the center
configuration; every value is HTML-escaped. Phone numbers also become `tel:` links, so a parent on a
phone can call the care team or the emergency number with one tap.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import phonenumbers

from bot.center.config import CenterConfig

WEB_DIR = Path(__file__).resolve().parent / "assets"
ASSETS = {  # file -> content type; the only files served from bot/channels/web/assets/
    "chat.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
    "widget.js": "text/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def tel(number: str, region: str) -> str:
    """The `tel:` form of a configured number (short codes such as 911 stay as dialled)."""
    digits = re.sub(r"\D", "", number)
    if len(digits) <= 6:
        return digits
    parsed = phonenumbers.parse(number, region)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def render_page(
    template: str, config: CenterConfig, max_message_length: int, reply_timeout_seconds: int
) -> str:
    """Fills `{{name}}` in chat.html with HTML-escaped center details and settings."""
    values = dict(config.values)
    region = config.phone_region
    for slot in ("emergency_number", "phone_existing_patients", "phone_new_appointments"):
        values[f"tel_{slot}"] = tel(config.values[slot], region)
    values["max_message_length"] = str(max_message_length)
    values["reply_timeout_ms"] = str(reply_timeout_seconds * 1000)
    unknown = set(_PLACEHOLDER.findall(template)) - set(values)
    if unknown:
        raise ValueError(f"chat.html names {sorted(unknown)}, which are no center details")
    return _PLACEHOLDER.sub(lambda m: html.escape(values[m.group(1)], quote=True), template)


def page_policy(allowed_origins: tuple[str, ...]) -> str:
    """The page's Content-Security-Policy: own files only, framed by itself and the site.

    `frame-ancestors` lists the allowed origins so the widget's iframe works on the center's
    site and nowhere else (no X-Frame-Options: it cannot name several origins).
    """
    ancestors = " ".join(("'self'", *allowed_origins))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; "
        f"require-trusted-types-for 'script'; trusted-types 'none'; frame-ancestors {ancestors}"
    )
