"""Tools for the team, never loaded by the running assistant.

The content check and report, story report and export, `make chat` and the cross-validation
report. The import contracts in pyproject.toml keep runtime code from importing them.
"""
