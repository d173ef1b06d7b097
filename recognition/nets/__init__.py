"""PyTorch re-implementations of the bundled recognition nets (weights in assets/models)."""
