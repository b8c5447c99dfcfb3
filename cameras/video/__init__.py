"""Live video: what the platform does for cameras' live streams (tokens, relays)."""
