"""The NLU graph runs in one worker thread, so the server's event loop is free while it reads.

Rasa 3.6 runs the NLU graph inside `MessageProcessor.parse_message` on the event loop itself:
while one message is read (the sentence encoder's forward pass alone is about 17 ms on this
machine's cores), no other family's message moves on, and the server's second core is used only
by TensorFlow's own threads. Here the graph runs in a worker thread instead. TensorFlow
releases the GIL for the forward pass, so meanwhile the event loop stores trackers, predicts
actions and answers other conversations on the other core (`make bench-cluster`: bench/README).

One worker, on purpose: the graph's components (spaCy, scikit-learn, the encoder) are then
never run by two threads at once, and nothing about them has to be thread-safe beyond being
called from a thread other than the loop's. Messages wait for the worker in arrival order.
What is computed is unchanged: the same graph, the same inputs, the same parse data; the
steps after the graph are Rasa's own (`_update_full_retrieval_intent`, the unseen-feature
check). An HTTP interpreter (not used here) keeps Rasa's path.

Installed by bot.runtime.rasa_fixes in every Rasa process.
"""

from __future__ import annotations

import asyncio
import copy
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import DialogueStateTracker

structlogger = structlog.get_logger()

_rasa_parse_message = MessageProcessor.parse_message


@functools.lru_cache(maxsize=1)
def _worker() -> ThreadPoolExecutor:
    """The one thread that runs the NLU graph, made on first use (after any fork)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu-graph")


async def parse_message(
    self: MessageProcessor,
    message: UserMessage,
    tracker: DialogueStateTracker | None = None,
    only_output_properties: bool = True,
) -> dict[str, Any]:
    """Rasa 3.6's `parse_message`, with the graph run awaited in the worker thread."""
    if self.http_interpreter:
        return await _rasa_parse_message(self, message, tracker, only_output_properties)
    if tracker is None:
        tracker = DialogueStateTracker.from_events(message.sender_id, [])
    parse = functools.partial(
        self._parse_message_with_graph, message, tracker, only_output_properties
    )
    parse_data = await asyncio.get_running_loop().run_in_executor(_worker(), parse)
    self._update_full_retrieval_intent(parse_data)
    structlogger.debug(
        "processor.message.parse",
        parse_data_text=copy.deepcopy(parse_data["text"]),
        parse_data_intent=parse_data["intent"],
        parse_data_entities=copy.deepcopy(parse_data["entities"]),
    )
    self._check_for_unseen_features(parse_data)
    return parse_data


def install() -> None:
    """Replaces Rasa's `parse_message` (idempotent)."""
    MessageProcessor.parse_message = parse_message
