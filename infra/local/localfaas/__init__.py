"""The local FaaS runtime: stack.yml's functions as processes, a gateway, and NATS connectors."""
