"""Static pictures of where one message's copies go and who handles them, as SVG text (01_topology).

``deliveries_svg`` draws the exchange, the queues a routing key reaches (with
the binding that let it in) and the callbacks that consume those queues.  It
is pure: the same arguments always give the same text.  Show it (or any
SVG text) with ``Picture(text)``, or get its HTML from ``svg_img(text)`` (both
from the SVG kit, ``svg``).  Inside an ``<img>`` the page's
theme colours do not reach, so the picture carries its own light card (ink and
accent above 4.5:1 on it): it reads the same on light and dark themes.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..topology import Topology
from .svg import ACCENT, FONT, INK, Picture, svg_img, svg_title
from .svg import PAGE as CARD
from .svg import text as escape

__all__ = ['Picture', 'deliveries_svg', 'svg_img', 'svg_title']

BORDER = '#d0d7de'
CHAR_W, ROW_H, BOX_H, GAP_X, PAD = 7.2, 54, 34, 90, 16


def _box(x: float, y: float, w: float, text: str, *, accent: bool = False, dashed: bool = False) -> str:
    stroke = ACCENT if accent else 'currentColor'
    dash = ' stroke-dasharray="5 4"' if dashed else ''
    return (f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{BOX_H}" rx="6" fill="{stroke}" '
            f'fill-opacity="0.08" stroke="{stroke}" stroke-width="1.5"{dash}/>'
            f'<text x="{x + w / 2:g}" y="{y + BOX_H / 2 + 4.5:g}" text-anchor="middle">{escape(text)}</text>')


def _arrow(x1: float, y1: float, x2: float, y2: float, label: str = '') -> str:
    line = (f'<path d="M{x1:g},{y1:g} C{(x1 + x2) / 2:g},{y1:g} {(x1 + x2) / 2:g},{y2:g} {x2 - 7:g},{y2:g}" '
            f'fill="none" stroke="{ACCENT}" stroke-width="2"/>'
            f'<path d="M{x2 - 8:g},{y2 - 5:g} L{x2:g},{y2:g} L{x2 - 8:g},{y2 + 5:g} z" fill="{ACCENT}"/>')
    if label:  # beside the end of the line, on the side the curve does not come from
        line += (f'<text x="{x2 - 12:g}" y="{y2 + 15 if y2 > y1 else y2 - 7:g}" text-anchor="end" font-size="11" '
                 f'font-family="monospace">{escape(label)}</text>')
    return line


def _width(texts: Sequence[str]) -> float:
    return max(len(t) for t in texts) * CHAR_W + 2 * PAD


def deliveries_svg(topology: Topology, routing_key: str, consumers: Mapping[str, Sequence[str]],
                   title: str = '') -> str:
    """Draw ``routing_key`` going through ``topology`` into its queues, then to ``consumers``.

    ``consumers`` maps a callback's label to the queues it consumes, e.g.
    ``{'process_task': ['audit_queue', 'video_queue']}``.  Queues the key does
    not reach are left out; a consumer with none of the reached queues is drawn dashed.
    """
    reached = topology.route(routing_key)
    if not reached:
        raise ValueError(f'routing key {routing_key!r} reaches no queue of {topology.exchange_name!r}')
    unknown = sorted({q for queues in consumers.values() for q in queues} - set(topology.queue_names))
    if unknown:
        raise ValueError(f'consumers name queues {unknown} that {topology.exchange_name!r} does not have')
    binding = {queue: key for queue, key, matched in topology.explain(routing_key) if matched}
    exchange_w = _width([topology.exchange_name, routing_key])
    queue_w = _width(reached)
    consumer_w = _width(list(consumers))
    copies_w = _width(['2 copies of the message'])  # the note under each consumer
    top = PAD + (24 if title else 0) + 20
    rows = max(len(reached), len(consumers))
    height = top + rows * ROW_H + PAD
    x_queue = PAD + exchange_w + GAP_X
    x_consumer = x_queue + queue_w + GAP_X
    width = x_consumer + consumer_w / 2 + max(consumer_w, copies_w) / 2 + PAD

    def row_y(index: int, count: int) -> float:
        return top + (rows - count) * ROW_H / 2 + index * ROW_H

    y_exchange = row_y(0, 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
             f'viewBox="0 0 {width:g} {height:g}" role="img" font-family="{FONT}" font-size="13" '
             f'fill="currentColor" color="{INK}" style="max-width:100%;height:auto">',
             f'<title>{escape(title or f"Where {routing_key} goes")}</title>',
             f'<rect x="0.5" y="0.5" width="{width - 1:g}" height="{height - 1:g}" rx="8" fill="{CARD}" '
             f'stroke="{BORDER}"/>']
    if title:
        parts.append(f'<text x="{PAD}" y="{PAD + 12}" font-weight="bold" font-size="14">{escape(title)}</text>')
    parts.append(f'<text x="{PAD}" y="{top - 8:g}" font-size="11">publish {escape(routing_key)!s}</text>')
    parts.append(_box(PAD, y_exchange, exchange_w, topology.exchange_name))
    queue_y = {}
    for index, queue in enumerate(reached):
        y = row_y(index, len(reached))
        queue_y[queue] = y
        parts.append(_arrow(PAD + exchange_w, y_exchange + BOX_H / 2, x_queue, y + BOX_H / 2, binding[queue]))
        parts.append(_box(x_queue, y, queue_w, queue))
    for index, (label, queues) in enumerate(consumers.items()):
        y = row_y(index, len(consumers))
        mine = [q for q in reached if q in queues]
        for queue in mine:
            parts.append(_arrow(x_queue + queue_w, queue_y[queue] + BOX_H / 2, x_consumer, y + BOX_H / 2))
        parts.append(_box(x_consumer, y, consumer_w, label, accent=len(mine) > 1, dashed=not mine))
        copies = f'{len(mine)} cop{"y" if len(mine) == 1 else "ies"} of the message'
        parts.append(f'<text x="{x_consumer + consumer_w / 2:g}" y="{y + BOX_H + 13:g}" text-anchor="middle" '
                     f'font-size="11">{copies}</text>')
    parts.append('</svg>')
    return '\n'.join(parts)
