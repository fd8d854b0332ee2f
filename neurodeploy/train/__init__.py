"""Train SLAYER CUBA networks on the CPU."""
