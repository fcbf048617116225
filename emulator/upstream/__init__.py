"""Tied to a real Paradigm: the proxy to an upstream, the recorder, replay of recordings, the drift report."""
