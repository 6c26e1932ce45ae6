"""One document for a clinician's review of all wording: `make content-report`.

For every response in domain.yml: its text as the web chat / REST channel shows it (center details
filled in, `content_check.render`), as a text message (`bot.channels.sms.text.format_reply`, using
the response's `channel: sms` variation when it has one), its provenance, its reading grade, and
what reaches it: the intents of the rules in data/rules/ that answer with it, the callback form's
questions (`utter_ask_<slot>`, `utter_why_<slot>`), and the action server (actions/*.py).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bot import paths
from bot.center.config import CenterConfig
from bot.channels.sms import text as sms_text
from bot.devtools import content_check


def rule_triggers(rules_dir: Path = paths.RULES) -> dict[str, list[str]]:
    """For each response, how rules reach it: "intent `x` (rule: name, file)"."""
    triggers: dict[str, list[str]] = defaultdict(list)
    for path in sorted(rules_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for rule in data.get("rules") or []:
            intent = None
            during_form = any("active_loop" in step for step in rule.get("condition") or [])
            for step in rule.get("steps") or []:
                if "intent" in step:
                    intent = step["intent"]
                action = step.get("action")
                if not action or not action.startswith("utter_"):
                    continue
                cause = f"intent `{intent}`" if intent else "after the previous answer"
                where = " during the callback form" if during_form else ""
                triggers[action].append(f"{cause}{where} (rule “{rule['rule']}”, {path.name})")
    return triggers


def other_triggers(domain: Mapping[str, Any], actions_dir: Path = paths.ACTIONS) -> dict:
    """Responses reached outside the rules.

    The form's questions, the action server, and the Rasa server's own code (the session start,
    the apology when the action server is down).
    """
    triggers: dict[str, list[str]] = defaultdict(list)
    for form, spec in (domain.get("forms") or {}).items():
        for slot in spec.get("required_slots") or []:
            triggers[f"utter_ask_{slot}"].append(f"the {form} asks for `{slot}`")
            triggers[f"utter_why_{slot}"].append(
                f"“why do you need that?” while the {form} asks for `{slot}`"
            )
    for path in sorted(actions_dir.glob("*.py")):
        for name in sorted(set(re.findall(r"\"(utter_[a-z_]+)\"", path.read_text()))):
            triggers[name].append(f"sent by the action server ({path.relative_to(paths.ROOT)})")
    for path in sorted(paths.RUNTIME.glob("*.py")):
        for name in sorted(set(re.findall(r"\"(utter_[a-z_]+)\"", path.read_text()))):
            triggers[name].append(f"sent by the Rasa server ({path.relative_to(paths.ROOT)})")
    return triggers


def _quote(text: str) -> list[str]:
    return [f"> {line}" if line else ">" for line in text.splitlines()] or [">"]


def build(domain: Mapping[str, Any], config: CenterConfig) -> str:
    """The Markdown report."""
    reached = rule_triggers()
    for name, causes in other_triggers(domain).items():
        reached[name].extend(causes)
    responses: Mapping[str, list[dict[str, Any]]] = domain.get("responses") or {}
    grades: dict[str, float] = {}
    body: list[str] = []
    for name, items in responses.items():
        web = [item for item in items if not item.get("channel")]
        sms = [item for item in items if item.get("channel") == "sms"] or web
        body += [f"## `{name}`", ""]
        causes = reached.get(name) or ["no rule, form or action names it"]
        body += ["**Reached by:** " + "; ".join(causes), ""]
        provenance = sorted(
            {ref for item in items for ref in (item.get("metadata") or {}).get("provenance", [])}
        )
        body += ["**Sources:** " + (", ".join(f"`{ref}`" for ref in provenance) or "NONE"), ""]
        for number, item in enumerate(web, start=1):
            text = content_check.render(item.get("text", ""), config)
            grade = content_check.grade(text)
            grades[name] = max(grade, grades.get(name, 0.0))
            label = f"variation {number}, " if len(web) > 1 else ""
            body += [f"**Web chat / REST** ({label}reading grade {grade:.1f}):", ""]
            body += _quote(text)
            for button in item.get("buttons") or []:
                body.append(f"> [button: {button.get('title')}]")
            body.append("")
        for number, item in enumerate(sms, start=1):
            message = {
                "text": content_check.render(item.get("text", ""), config),
                "buttons": item.get("buttons") or [],
            }
            texts = sms_text.format_reply([message]).messages
            segments = sum(sms_text.segment_count(text) for text in texts)
            own = " (its own `channel: sms` wording)" if item.get("channel") == "sms" else ""
            label = f"variation {number}, " if len(sms) > 1 else ""
            body += [
                f"**SMS**{own} ({label}{len(texts)} message(s), {segments} segment(s)):",
                "",
            ]
            for text in texts:
                body += _quote(text) + [""]
    average = sum(grades.values()) / len(grades) if grades else 0.0
    head = [
        "# Everything the assistant says",
        "",
        f"Center configuration: `{config.path}`. Responses: {len(responses)}. "
        f"Average reading grade: {average:.1f} (limits: {content_check.MAX_GRADE:g} for each, "
        f"{content_check.MAX_AVERAGE_GRADE:g} on average).",
        "",
        "Generated by `make content-report` from domain.yml, data/rules/ and the center "
        "configuration; do not edit by hand.",
        "",
        "| response | grade | sources |",
        "| --- | --- | --- |",
    ]
    for name, items in responses.items():
        refs = sorted(
            {r for item in items for r in (item.get("metadata") or {}).get("provenance", [])}
        )
        head.append(f"| [`{name}`](#{name}) | {grades.get(name, 0.0):.1f} | {', '.join(refs)} |")
    return "\n".join(head + [""] + body)


def write(out: Path, domain: Mapping[str, Any], config: CenterConfig) -> Path:
    """Writes the report to `out` (folders created); returns the path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build(domain, config), encoding="utf-8")
    return out
