"""The gatherer: Kalshi WebSocket + REST into one gatherer's local databases."""
