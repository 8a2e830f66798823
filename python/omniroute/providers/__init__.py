"""Provider registry (data) and executors (URL and auth per dialect)."""
