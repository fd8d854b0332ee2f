"""Run networks in PyTorch (SLAYER) and in Lava (fixed_pt) on the same samples."""
