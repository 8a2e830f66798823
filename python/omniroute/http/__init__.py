"""RSGI plumbing: request wrapper, response helpers, routing table."""
