"""Datasets and spike encodings."""
