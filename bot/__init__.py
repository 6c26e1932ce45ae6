"""Runtime code around Rasa: configuration, safety net, channels and the command line."""
