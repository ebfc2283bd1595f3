"""Referrals: a case (or the live contact) sent to a station or an institution, acknowledged,
worked by a unit on the ground, escalated when nobody acknowledges (docs/referrals.md)."""
