"""The 15 helpline on Twilio: signed voice webhooks, the menu, queueing by phone, callbacks."""
