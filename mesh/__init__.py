"""Small shared infrastructure for the three services: settings, logging, the stream codec and gRPC
plumbing. It holds no business rules; no service imports another, they all import this."""
