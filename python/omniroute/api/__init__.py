"""Public HTTP surfaces, one module each."""
