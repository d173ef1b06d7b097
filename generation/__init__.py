"""Generation: audio-to-motion, talking-face video, synthetic data. May import `recognition` and `rigs`."""
