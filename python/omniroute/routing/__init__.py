"""Model resolution and account selection."""
