"""The SMS channel (credentials.yml names `bot.channels.sms.SmsInput`).

Signed Twilio-compatible webhooks, replies fitted to SMS, and the store of opt-outs and sent
replies.
"""

from bot.channels.sms.channel import SmsInput

__all__ = ["SmsInput"]
