"""Concord's service: internal API, persistence, configuration and command line."""
