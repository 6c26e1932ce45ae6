"""Starts a server with JSON log lines from its very first line (the production profile).

`python -m bot.runtime.json_logs rasa ARGS` runs Rasa's command line with the project's fixes
(bot.runtime.rasa_fixes), `python -m bot.runtime.json_logs actions ARGS` the rasa-sdk action
server, both with `logging.json.yml` applied before anything else is imported: Rasa, TensorFlow
and their libraries warn while they are imported, and those warnings would otherwise reach the
log collector as plain text. Each server is then given the file again through its own option,
which it applies when it sets up its logging.
"""

from __future__ import annotations

import logging
import logging.config
import runpy
import sys
from pathlib import Path

import yaml

CONFIG = Path(__file__).with_name("logging.json.yml")
# The option each server reads the file from (rasa-sdk 3.6 spells its own with an underscore).
OPTIONS = {"rasa": "--logging-config-file", "actions": "--logging-config_file"}


def configure() -> None:
    """Applies logging.json.yml, Python's warnings included."""
    logging.config.dictConfig(yaml.safe_load(CONFIG.read_text(encoding="utf-8")))
    logging.captureWarnings(True)


def command(server: str) -> list[str]:
    """The start of the command line that runs `server` ("rasa" or "actions") this way."""
    return [sys.executable, "-m", __name__, server]


def main(argv: list[str]) -> None:
    """Configures logging, then runs the server named by the first argument."""
    if not argv or argv[0] not in OPTIONS:
        raise SystemExit(f"usage: python -m {__name__} {{{'|'.join(OPTIONS)}}} ARGS...")
    server, args = argv[0], [*argv[1:], OPTIONS[argv[0]], str(CONFIG)]
    configure()
    if server == "rasa":
        from bot.runtime import rasa_fixes

        sys.argv = ["rasa", *args]
        rasa_fixes.main()
    else:
        sys.argv = ["rasa_sdk", *args]
        runpy.run_module("rasa_sdk", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
