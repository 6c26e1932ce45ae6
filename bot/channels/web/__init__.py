"""The website chat channel (credentials.yml names `bot.channels.web.WebInput`).

The page, the widget that embeds it, and the API they call.
"""

from bot.channels.web.channel import WebInput

__all__ = ["WebInput"]
