"""The dev cluster: a local stand-in for EKS + Prometheus (Kubernetes REST subset, traffic simulation, metrics)."""
