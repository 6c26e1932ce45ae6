"""The staff's view of the assistant: the dashboard at /staff and its accounts.

`bot.staff.channel.StaffDashboard` is loaded by Rasa from credentials.yml; `python -m bot staff`
manages the accounts (bot.staff.cli).
"""
