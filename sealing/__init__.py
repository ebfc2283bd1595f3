"""Sealing: personal data encrypted at rest (AES-GCM, key ids), phone numbers kept as keyed
hashes so repeat callers are recognised without the number in clear."""
