"""The center's configuration (center.yml): phone lines, names, links, delivery settings.

Read once per process and validated on load; every other package takes center details from
here, never from a literal.
"""
