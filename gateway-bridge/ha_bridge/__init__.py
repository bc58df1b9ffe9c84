"""gateway-bridge: Home Assistant's WebSocket API ⇄ NATS JetStream, without losing an event."""
