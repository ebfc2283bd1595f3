"""The contact desk: a contact's whole life, on every channel, in one place.

Browser video, audio and chat, the 15 line, callbacks and the phone call's
video leg are thin adapters (``signaling/intake.py``, ``ivr/``) that turn
what arrived into a :class:`~contacts.request.ContactRequest` and call the
:class:`~contacts.desk.Desk`. Only the desk calls the case log
(:mod:`cases`), the signaling hub and the router, and it undoes its earlier
steps when a later one fails, so no contact is ever left half-opened.
"""
