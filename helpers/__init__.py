"""Kombu Routing Lab: the small modules the course notebooks import.

Each module names the notebook that introduces it.  Nothing here imports
ipywidgets except the view modules (``panel``, ``diagram``, ``key_tester``,
``widget_view``; the teacher's dashboard lives in ``teacher``).
"""

__version__ = '0.1.0'
