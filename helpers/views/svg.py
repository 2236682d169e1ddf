"""The course's SVG kit: fonts, colours, text and numbers, and the ``<img>`` that shows SVG (01_topology).

``diagram`` and ``pictures`` draw with it.  ``Picture(svg)`` (or ``svg_img(svg)``) shows SVG text as an
``<img>`` with a data URI, which JupyterLab shows even in a notebook opened without running it (it refuses
SVG output there, and strips inline ``<svg>`` from HTML).
"""
from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

__all__ = ['FONT', 'MONO', 'INK', 'PAGE', 'ACCENT', 'text', 'attr', 'n', 'svg_title', 'svg_img', 'Picture']

FONT = 'DejaVu Sans, Verdana, Helvetica, Arial, sans-serif'
MONO = 'DejaVu Sans Mono, Menlo, Consolas, monospace'
INK, PAGE = '#1f2328', '#ffffff'  # text and background, as on a light page
ACCENT = '#c2410c'  # the path a message takes (5.2:1 on the page)


def text(value: str) -> str:
    """``value`` as SVG text: escaped, and characters XML 1.0 cannot carry (control characters) as U+FFFD."""
    return escape(''.join(ch if ch in '\t\n\r' or ch >= ' ' else '\ufffd' for ch in str(value)))


def attr(value) -> str:
    """``value`` as the inside of a double-quoted attribute."""
    return text(value).replace('"', '&quot;')


def n(value: float) -> str:
    """A coordinate with at most one decimal, the same on every platform."""
    shown = f'{value:.1f}'
    return shown[:-2] if shown.endswith('.0') else shown


def svg_title(svg: str) -> str:
    """The text of the SVG's ``<title>``, or 'picture' when it has none."""
    try:
        title = ET.fromstring(svg).find('{http://www.w3.org/2000/svg}title')
    except ET.ParseError:
        return 'picture'
    return title.text if title is not None and title.text else 'picture'


def svg_img(svg: str, alt: str | None = None) -> str:
    """``svg`` as an ``<img>`` with a data URI (HTML that sanitizers keep); ``alt`` defaults to its title."""
    data = base64.b64encode(svg.encode('utf-8')).decode('ascii')
    return (f'<img src="data:image/svg+xml;base64,{data}" alt={quoteattr(alt or svg_title(svg))} '
            'style="max-width:100%;height:auto"/>')


class Picture:
    """SVG text shown as an ``<img>`` (its ``<title>`` as the alt text), which unrun notebooks keep."""

    def __init__(self, svg: str) -> None:
        self.svg = svg
        self.alt = svg_title(svg)

    def _repr_html_(self) -> str:
        return svg_img(self.svg, self.alt)

    def __repr__(self) -> str:
        return f'[picture: {self.alt}]'
