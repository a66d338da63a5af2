"""The delivery engine: jobs, claiming with leases, the worker loop, retry policy."""
