"""safecall: the app factory, settings, command line and web pages."""
