"""Recordings: encrypted at rest, hashed and chained on arrival, access-audited; evidence export."""
