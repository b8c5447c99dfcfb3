"""Live video: FFmpeg for pulling cameras' streams, the relay, stream tokens."""
