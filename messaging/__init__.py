"""Keeping her informed as she chose (SMS, WhatsApp, app notification, or not at all), and
her texts to the centre as a channel of their own (docs/messaging.md)."""
