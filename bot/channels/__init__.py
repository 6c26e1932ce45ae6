"""Rasa input channels of the assistant, each named in credentials.yml by its class path."""
