"""Inbound keys, credential vault, request authentication."""
