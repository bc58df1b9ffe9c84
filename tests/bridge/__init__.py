"""gateway-bridge tests: a real Home Assistant, a real nats-server, the bridge as a process."""
