"""The viewers' URL as a QR code, so that a room joins by phone: an inline SVG made by segno
(a small pure-Python QR library), drawn on the presenter's page."""

from __future__ import annotations

from html import escape


def qr_svg(text, scale=4):
    """An <svg> element encoding `text` (error correction M: survives a projector's glare)."""
    import segno

    return segno.make(text, error="m").svg_inline(scale=scale, dark="#101828", light="#ffffff")


def join_html(url, scale=4):
    """The QR code and the URL under it, for the presenter's page."""
    return '<div class="cp-join">%s<div class="cp-join-url">%s</div></div>' % (qr_svg(url, scale), escape(url))
