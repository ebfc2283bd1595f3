"""WebSocket signaling for browser calls and chat: sessions, relay, reconnection, TURN.

``messages`` (the protocol), ``hub`` (sessions and relay), ``connection`` (one
page's socket), ``store`` / ``memory_store`` / ``redis_store`` (where sessions
live), ``bus`` (between server processes), ``ice`` (STUN/TURN), ``routes``
(``/ws`` and ``/api/ice-servers``). The page author's guide is docs/signaling.md.
"""
