"""Quantize trained SLAYER networks and write them as NetX HDF5."""
