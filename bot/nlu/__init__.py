"""Understanding what families type.

The safety patterns, the NLU component that applies them inside Rasa, and the builder of the
spaCy pipeline that config.yml loads.

`bot.nlu.safety` imports nothing from Rasa, so the action server can use it too.
"""
