"""Kombu Routing Lab: the small modules the course notebooks import.

Each module names the notebook that introduces it.  The views (widgets and pictures) live in
``helpers.views``: nothing else here imports ipywidgets.
"""

__version__ = '0.1.0'
