"""helpers.views.pictures: the delivery picture names what the topology routes, and nothing else."""
import base64
import xml.etree.ElementTree as ET

import pytest

from helpers.course_names import AUDIT_QUEUE, SEED_EXCHANGE, USER_QUEUE, VIDEO_QUEUE
from helpers.topology import MEDIA, SEED, Topology
from helpers.views.pictures import Picture, deliveries_svg, svg_img

SVG = '{http://www.w3.org/2000/svg}'


def texts(svg: str) -> list[str]:
    return [t.text for t in ET.fromstring(svg).iter(f'{SVG}text')]


def test_the_seeds_two_copies_reach_one_callback():
    svg = deliveries_svg(SEED, 'video.upload', {'process_task': [AUDIT_QUEUE, VIDEO_QUEUE]})
    shown = texts(svg)
    assert {SEED_EXCHANGE, AUDIT_QUEUE, VIDEO_QUEUE, 'process_task', '#', 'video.#'} <= set(shown)
    assert '2 copies of the message' in shown
    assert svg == deliveries_svg(SEED, 'video.upload', {'process_task': [AUDIT_QUEUE, VIDEO_QUEUE]})


def test_one_handler_per_queue_gets_one_copy_each():
    shown = texts(deliveries_svg(SEED, 'video.upload', {'audit': [AUDIT_QUEUE], 'transcode': [VIDEO_QUEUE]}))
    assert shown.count('1 copy of the message') == 2


def test_only_the_queues_the_key_reaches_are_drawn():
    shown = texts(deliveries_svg(MEDIA, 'user.login', {'audit': [AUDIT_QUEUE], 'users': [USER_QUEUE]}))
    assert USER_QUEUE in shown and AUDIT_QUEUE in shown and VIDEO_QUEUE not in shown


def test_the_picture_brings_its_own_card_and_ink():
    """Notebooks draw SVG output in an <img>, out of the theme's reach: the card makes it readable on any."""
    root = ET.fromstring(deliveries_svg(SEED, 'user.login', {'audit': [AUDIT_QUEUE]}))
    card = root.find(f'{SVG}rect')
    assert root.get('color') == '#1f2328' and root.get('fill') == 'currentColor'
    assert card.get('fill') == '#ffffff'
    assert float(card.get('width')) == float(root.get('width')) - 1


@pytest.mark.parametrize(('key', 'consumers', 'message'), [
    ('report', {'x': [VIDEO_QUEUE]}, 'reaches no queue'),
    ('video.upload', {'x': ['nope_queue']}, "does not have"),
])
def test_bad_arguments_say_what_is_wrong(key, consumers, message):
    with pytest.raises(ValueError, match=message):
        deliveries_svg(Topology('videos', ((VIDEO_QUEUE, 'video.#'),)), key, consumers)


def test_a_picture_is_an_img_of_the_same_svg_with_its_title_as_alt():
    """Unrun notebooks refuse SVG output and strip inline <svg>; an <img> with a data URI survives."""
    svg = deliveries_svg(SEED, 'video.upload', {'audit': [AUDIT_QUEUE]}, title='A <small> & "quoted" title')
    html = Picture(svg)._repr_html_()
    img = ET.fromstring(html)
    assert img.tag == 'img' and '<svg' not in html
    scheme, data = img.get('src').split(',', 1)
    assert scheme == 'data:image/svg+xml;base64' and base64.b64decode(data).decode() == svg
    assert img.get('alt') == 'A <small> & "quoted" title'
    assert repr(Picture(svg)) == '[picture: A <small> & "quoted" title]'
    assert html == Picture(svg)._repr_html_()


@pytest.mark.parametrize(('svg', 'alt'), [
    ('<svg xmlns="http://www.w3.org/2000/svg"><title>Routing through x</title></svg>', 'Routing through x'),
    ('<svg xmlns="http://www.w3.org/2000/svg"/>', 'picture'),
    ('<svg', 'picture'),  # not XML: still a picture, never an exception while a notebook displays it
])
def test_svg_img_takes_its_alt_from_the_title(svg, alt):
    img = ET.fromstring(svg_img(svg))
    assert img.get('alt') == alt and base64.b64decode(img.get('src').split(',', 1)[1]).decode() == svg
    assert ET.fromstring(svg_img(svg, alt='given')).get('alt') == 'given'
