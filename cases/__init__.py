"""Cases, contact sessions and their legs, timelines, the audit log, tracking codes, reports."""
