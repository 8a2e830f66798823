"""Property-based tests (hypothesis) of the Rust core through omniroute._core."""
