"""Unit tests: no broker, no network, no processes; the whole suite in seconds."""
