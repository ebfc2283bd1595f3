"""The media plane: the bridge between Twilio Media Streams and the officer's WebRTC leg."""
