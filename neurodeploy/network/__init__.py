"""Networks as NetX HDF5 describes them: layer records, reader and writer."""
