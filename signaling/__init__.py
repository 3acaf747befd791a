"""WebRTC signaling and media for live deliberations.

A library: it never imports ``server``. Only the deliberation feature drives it.
The media pipeline arrives with the media issue; this package holds its place.
"""
