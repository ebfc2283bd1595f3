"""Officer accounts: who may log in, with which role, skills and lines."""
