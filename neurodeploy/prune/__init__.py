"""Pruning: masks, criteria and the prune stage."""
