"""Pytest fixtures for talking to real upstreams (filled in by the adapter work)."""
