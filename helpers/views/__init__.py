"""The course's views: widgets and SVG pictures that read the topology and the event log (01_topology).

``key_tester``, ``panel`` and ``diagram`` are widget views (``snapshot.WidgetView``), kept fresh from
worker threads by ``repaint``; ``pictures`` draws SVG.  Nothing outside this package imports ipywidgets.
"""
