"""A routing-key tester: type a key, see which queues receive it on your broker, and why (01_topology).

``KeyTester`` is the thin widget view: a text box and, under it, the text of
``helpers.explain.explain_key`` (plain, unit-tested, usable from a terminal) for the broker the
notebook runs on (``BROKER_URL``), with RabbitMQ's answer beside it where the two differ; displayed
with a static snapshot (see ``snapshot``).  Only ipywidgets API common to 7.7 (Colab) and 8 is used.
"""
from __future__ import annotations

import ipywidgets as widgets

from .. import config
from ..explain import BROKER_LABELS, PROMPT, explain_key
from ..topology import SEED, Topology, matches, virtual_matches
from .snapshot import WidgetView, pre, snapshot_field, snapshot_frame

__all__ = ['KeyTester']


class KeyTester(WidgetView):
    """A text box and the live explanation under it; display the tester (or ``tester.widget``).

    ``broker`` is whose routing it shows: 'amqp', 'memory' or 'redis'; by default the transport of
    ``BROKER_URL`` (``config.transport_of()``), the broker the notebook publishes to.
    """

    def __init__(self, topology: Topology = SEED, broker: str | None = None) -> None:
        self.topology = topology
        self.broker = broker or config.transport_of()
        if self.broker not in BROKER_LABELS:
            raise ValueError(f'broker {self.broker!r}: use one of {sorted(BROKER_LABELS)}')
        self.text = widgets.Text(value='', placeholder='video.upload', description='Routing key:',
                                 style={'description_width': 'initial'})
        self.output = widgets.HTML(value=pre(PROMPT))
        self.result = PROMPT
        self.widget = self._root([self.text, self.output])
        self.text.observe(self._on_change, names='value')

    def test(self, routing_key: str) -> str:
        """Type ``routing_key`` into the box (as a learner would) and return the text shown."""
        self.text.value = routing_key
        return self.result

    def queues(self, routing_key: str) -> list[str]:
        """The sorted queues of the topology that receive ``routing_key`` on the tester's broker."""
        rule = matches if self.broker == 'amqp' else virtual_matches
        return sorted({queue for queue, key in self.topology.bindings if rule(key, routing_key)})

    def snapshot_html(self) -> str:
        """The box and the explanation as static HTML."""
        return snapshot_frame(snapshot_field('Routing key:', self.text.value, self.text.placeholder)
                              + pre(self.result, margin='2px 0'), 'routing-key tester')

    def close(self) -> None:
        """Close the widgets."""
        for widget in (self.text, self.output, self.widget):
            widget.close()

    def __repr__(self) -> str:
        return f'<KeyTester for {self.topology.exchange_name}>'

    def _on_change(self, change) -> None:
        self.result = explain_key(change['new'], self.topology, self.broker)
        self.output.value = pre(self.result)
