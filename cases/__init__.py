"""Cases, contact sessions and their legs, timelines, tracking codes, reports."""
