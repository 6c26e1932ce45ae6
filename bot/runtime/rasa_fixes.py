"""Rasa's command line (`python -m bot.runtime.rasa_fixes run ...`) with fixes to Rasa 3.6 applied.

Every Rasa process of the assistant (the launcher's server, `make chat`, the story tests) starts
through here, so the fixes hold everywhere:

1. The session start runs inside the Rasa server (`bot.runtime.session_start`), so a new
   conversation opens, and a safety message in it is answered, while the action server is down.
2. When the action server cannot be reached, the family is told so, with the phone line,
   instead of getting silence (`apologise_when_unreachable`).
3. Speed: Rasa 3.6 checks every action server response against a JSON schema with
   `jsonschema.validate`, which first re-validates the schema itself against JSON Schema's
   meta-schema, on every call. A profile of the server under load (`make profile`) put 16% of
   its time there. The fix builds the validator once, checks the schema once, and validates each
   response exactly as before: the same schema, the same errors (`best_match`), the same message
   added for the action server's developer.
4. The conversation's language is kept in the `language` slot by the slot extraction that runs
   after every message (`bot.runtime.language_slot`), inside the Rasa server.
5. Prometheus counters and the latency histogram are updated where Rasa handles each message
   (`bot.runtime.metrics`); `/metrics` serves them (`bot.channels.health`).
6. `--logging-config-file` (the JSON lines of the production profile) holds: Rasa 3.6 applies
   the file, then installs its coloured console handler over it (`keep_logging_config`).
7. Speed: the NLU graph runs in a worker thread instead of on the event loop, so the server
   answers other conversations while a message is read (`bot.runtime.nlu_worker`); a server
   (`rasa run`) keeps TensorFlow and BLAS to one thread each (`bot.runtime.serving`).
8. Speed: every stored event read back is turned into its class by `Event.resolve_by_type`,
   which walks all of Event's subclasses each time; the class is looked up once per type name
   (`resolve_event_type`). Unknown names still get Rasa's answer (its default, or its error).
9. Speed: RulePolicy's search for the applicable rules starts from the rules of the latest
   intent instead of checking all of them (`bot.runtime.rule_index`); the same rules are found.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import Any

from jsonschema import exceptions, validators
from rasa.core.actions import action as rasa_actions
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.exceptions import RasaException
from rasa.shared.utils.common import all_subclasses
from rasa.utils import io as rasa_io
from rasa.utils.common import configure_logging_from_file

from bot.runtime import metrics, nlu_worker, rule_index, serving
from bot.runtime.language_slot import ExtractSlotsAndLanguage
from bot.runtime.launcher import API_TOKEN_ENV
from bot.runtime.session_start import SessionStartWithDisclaimer

logger = logging.getLogger(__name__)

UNAVAILABLE = "utter_action_server_unavailable"
_remote_run = RemoteAction.run


@functools.lru_cache(maxsize=1)
def _response_validator() -> Any:
    """The validator for action server responses, its schema checked once."""
    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(_action: RemoteAction, result: dict[str, Any]) -> bool:
    """Drop-in for `RemoteAction._validate_action_result`; raises `ValidationError` as it does."""
    error = exceptions.best_match(_response_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            "from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


async def apologise_when_unreachable(
    action: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any
) -> list[Event]:
    """`RemoteAction.run`, telling the family plainly when the action server failed.

    Rasa logs the failure and carries on without the action's events: the family would see
    nothing. A rejection (a form's "not this slot") is the action server's answer, not a failure,
    and passes through.
    """
    try:
        return await _remote_run(action, output_channel, nlg, tracker, domain)
    except ActionExecutionRejection:
        raise
    except RasaException as error:
        logger.error("action %s failed, the family was told to call: %s", action.name(), error)
        apology = rasa_actions.ActionBotResponse(UNAVAILABLE)
        return await apology.run(output_channel, nlg, tracker, domain)


_rasa_resolve_by_type = Event.resolve_by_type


@functools.cache
def _event_class(type_name: str) -> type[Event] | None:
    """The first subclass of Event with this type name, as Rasa's walk finds it, or None."""
    return next((cls for cls in all_subclasses(Event) if cls.type_name == type_name), None)


def resolve_event_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """`Event.resolve_by_type`, the subclass walk done once for each type name found."""
    found = _event_class(type_name)
    return found if found is not None else _rasa_resolve_by_type(type_name, default)


def apply_fixes() -> None:
    """Installs the fixes; idempotent."""
    RemoteAction._validate_action_result = validate_action_result
    RemoteAction.run = apologise_when_unreachable
    # default_actions() builds Rasa's default actions from this module-level name.
    rasa_actions.ActionSessionStart = SessionStartWithDisclaimer
    rasa_actions.ActionExtractSlots = ExtractSlotsAndLanguage
    Event.resolve_by_type = staticmethod(resolve_event_type)
    metrics.install()
    nlu_worker.install()
    rule_index.install()


def main() -> None:
    """Runs Rasa's own command line with the fix in place."""
    from rasa.__main__ import main as rasa_main

    apply_fixes()
    if sys.argv[1:2] == ["run"]:
        serving.one_thread_each()
    _token_from_environment(sys.argv)
    keep_logging_config(sys.argv)
    rasa_main()


def keep_logging_config(argv: list[str]) -> None:
    """Keeps the handlers of `--logging-config-file FILE` instead of Rasa's coloured ones.

    Rasa's command line applies the file, then `configure_colored_logging` installs coloredlogs
    on the root logger, which replaces the file's console handler. With a file, that step
    applies the file again instead; Python's warnings go through it too.
    """
    if "--logging-config-file" not in argv:
        return
    config_file = argv[argv.index("--logging-config-file") + 1]

    def configure(_loglevel: Any) -> None:
        configure_logging_from_file(config_file)
        logging.captureWarnings(True)

    rasa_io.configure_colored_logging = configure


def _token_from_environment(argv: list[str]) -> None:
    """Hands Rasa the HTTP API token from $RASA_API_TOKEN, so it is never on a command line.

    Rasa takes the token only as `--auth-token`; added here, inside the process, it does not
    show in `ps` or /proc/<pid>/cmdline. `--enable-api` without a token is refused.
    """
    if "--enable-api" not in argv:
        return
    token = os.environ.get(API_TOKEN_ENV, "")
    if not token:
        raise SystemExit(f"error: --enable-api needs a token in {API_TOKEN_ENV}")
    # One argument: a token that starts with "-" (token_urlsafe makes one about 1 time in 64)
    # would otherwise be read by argparse as another option, and Rasa would not start.
    argv.append(f"--auth-token={token}")


if __name__ == "__main__":
    main()
