"""Outbound HTTP behind one small interface: send -> status, headers, async body."""
