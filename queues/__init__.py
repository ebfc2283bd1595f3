"""The skill-based routing engine: which officer is offered which contact, and when.

Start with :mod:`queues.router` (the public API) and :mod:`queues.policy` (the
rules); ``docs/routing.md`` explains the whole.
"""
