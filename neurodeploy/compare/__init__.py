"""Compare networks: spike equivalence, accuracy and synaptic operations."""
