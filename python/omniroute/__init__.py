"""OmniRoute: one endpoint in front of every LLM provider."""

# The Rust core carries the package version (maturin builds the wheel from its Cargo version);
# reading it from there spares every process importlib.metadata (about 3 MiB and 30 ms).
from omniroute._core import __version__

__all__ = ["__version__"]
