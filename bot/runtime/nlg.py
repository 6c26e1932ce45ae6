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


class CenterResponses(TemplatedNaturalLanguageGenerator):
    """Domain responses, with the configured center details as template variables."""

    def __init__(
        self, endpoint_config: EndpointConfig | None = None, domain: Domain | None = None
    ) -> None:
        """Reads the center configuration once; a broken file stops the server at start-up."""
        super().__init__((domain or Domain.empty()).responses)
        self.center_values: dict[str, str] = dict(center_config().values)

    def _response_variables(
        self, filled_slots: dict[str, Any] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """Slots and call arguments, with the center's details taking precedence."""
        return {**(filled_slots or {}), **kwargs, **self.center_values}
