"""paradigm-emulator: a deterministic emulator of LightOn's Paradigm API."""

__version__ = "0.1.0"
