"""The audit log: every read and change of sensitive data, in a hash chain whose head is signed
with a key the database does not hold (used by every package; imports only what lies below)."""
