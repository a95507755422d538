"""The application layer: each operation once, for every transport to call."""
