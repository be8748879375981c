"""Monitoring: process memory readings (and, later, the sampler, endpoint and health check)."""
