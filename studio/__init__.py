"""Studio: wires recognition, generation and rigs into pipelines, the CLI and the web app."""
