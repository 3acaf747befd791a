"""WebRTC signaling and media for live deliberations.

A library: it never imports ``server``. Only the deliberation feature drives it.

- ``messages``: the typed signalling messages of the ``media`` event;
- ``room``: a ``MediaRoom`` per live session, one aiortc peer per interactive participant,
  encoded frames forwarded between them (``forwarding``) without re-encoding;
- ``_aiortc``: every use of aiortc internals, checked against the pinned version;
- ``pipeline``: the livestream and recording (one composition, one encode, HLS and a
  crash-safe recording from the same packets).
"""
