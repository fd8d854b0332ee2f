"""Sweeps: every criterion x sparsity x seed, pruned, exported and measured, in parallel."""
