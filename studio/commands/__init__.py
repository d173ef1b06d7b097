"""One module per CLI command; each registers itself on `studio.cli.app`."""
