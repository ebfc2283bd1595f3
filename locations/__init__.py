"""Live location: where she is, shared by her page with her consent while a contact lasts."""
