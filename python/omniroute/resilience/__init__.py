"""Resilience: circuit breakers (`breakers`), cooldowns (`cooldowns`), upstream failure
classification (`classify`) and outbound limits per connection (`limits`)."""
