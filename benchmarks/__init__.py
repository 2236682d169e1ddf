"""Benchmarks of the course's helpers against other clients; not part of the course package."""
