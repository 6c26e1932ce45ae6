"""Callback requests: stored with their outbox row, e-mailed to staff, listed for staff.

The store keeps a request and its outbox row in one transaction, the outbox e-mails the staff
inbox, and the staff command line is `python -m bot requests ...`.

Nothing here imports Rasa: the action server stores requests through this package.
"""
