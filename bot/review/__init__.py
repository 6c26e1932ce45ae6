"""What families asked that the assistant could not place, for staff review.

Read from the conversation store (Rasa's tracker store, SQLite or PostgreSQL), with personal
details masked before anything leaves this package, grouped by similarity (`groups`), and marked
as handled once reviewed (`marks`). Used by `python -m bot review` and the staff dashboard.
"""
