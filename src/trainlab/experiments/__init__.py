"""One module per experiment; each registers itself with `trainlab.registry.experiment`."""
