"""The callback form's names, shared by the form and by the store that forgets its answers.

The action server (actions/callback.py) runs the form; the conversation store
(bot/runtime/tracker_store.py) forgets its answers once it ends. Kept here, apart from both, so
that the store's idea of "what the family typed into the form" can never drift from the form.
"""

from __future__ import annotations

FORM = "callback_form"
SUBMIT_ACTION = "action_submit_callback"
CANCEL_ACTION = "action_cancel_callback"

# Every slot the form asks for, in the order it asks.
FORM_SLOTS = (
    "request_type",
    "relationship",
    "contact_name",
    "phone",
    "email",
    "best_time",
    "treating_hospital",
    "country",
    "consent",
)
# The answers that are personal details: kept in the request store only, never in the
# conversation store once the request is stored or cancelled.
PERSONAL_SLOTS = frozenset(
    {"contact_name", "phone", "email", "best_time", "treating_hospital", "country"}
)
