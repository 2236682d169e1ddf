"""Kombu Routing Lab: the small modules the course notebooks import.

Each module names the notebook that introduces it.  Nothing here imports
ipywidgets except the view modules (``panel`` and ``diagram``).
"""

__version__ = '0.1.0'
