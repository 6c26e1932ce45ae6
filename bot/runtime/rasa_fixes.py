"""Rasa's command line (`python -m bot.runtime.rasa_fixes run ...`) with a fix to Rasa 3.6 applied.

Rasa 3.6 checks every action server response against a JSON schema with `jsonschema.validate`,
which first re-validates the schema itself against JSON Schema's meta-schema, on every call. A
profile of the server under load (`make profile`) put 16% of its time there. The fix builds the
validator once, checks the schema once, and validates each response exactly as before: the same
schema, the same errors (`best_match`), the same message added for the action server's developer.
"""

from __future__ import annotations

import functools
from typing import Any

from jsonschema import exceptions, validators
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


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


def apply_fixes() -> None:
    """Installs the fix; idempotent."""
    RemoteAction._validate_action_result = validate_action_result


def main() -> None:
    """Runs Rasa's own command line with the fix in place."""
    from rasa.__main__ import main as rasa_main

    apply_fixes()
    rasa_main()


if __name__ == "__main__":
    main()
