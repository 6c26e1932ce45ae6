"""Response generator that fills the center's details into every response.

Responses in domain.yml name center details as placeholders ({phone_existing_patients}, ...). They
are filled here, inside the Rasa server, from the center configuration, so that an emergency answer
carries the right numbers even when the action server is down. endpoints.yml selects this class
(`nlg: type: bot.runtime.nlg.CenterResponses`).
"""

from __future__ import annotations

from typing import Any

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig

from bot.center.config import center_config
from bot.nlu import language
from bot.runtime.metrics import count_response


class CenterResponses(TemplatedNaturalLanguageGenerator):
    """Domain responses, with the configured center details as template variables."""

    def __init__(
        self, endpoint_config: EndpointConfig | None = None, domain: Domain | None = None
    ) -> None:
        """Reads the center configuration once; a broken file stops the server at start-up."""
        super().__init__((domain or Domain.empty()).responses)
        self.center_values: dict[str, str] = dict(center_config().values)

    def generate_from_slots(
        self,
        utter_action: str,
        filled_slots: dict[str, Any],
        output_channel: str,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        """Rasa's choice of variation, marked with its language (`metadata.language`).

        The web page sets its own words and `lang` attribute from the language of the latest
        answer, so the page and the answers cannot disagree.
        """
        response = super().generate_from_slots(utter_action, filled_slots, output_channel, **kwargs)
        count_response(utter_action)
        if response is not None:
            metadata = dict(response.get("metadata") or {})
            metadata[language.SLOT] = language.of_variation(response)
            response["metadata"] = metadata
        return response

    def _response_variables(
        self, filled_slots: dict[str, Any] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """Slots and call arguments, with the center's details taking precedence."""
        return {**(filled_slots or {}), **kwargs, **self.center_values}
