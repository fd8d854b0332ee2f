"""Deployment kits: a NetX network, its input and a standalone script that runs it on Loihi 2
(or Lava's CPU simulator) and records what it did (``kit``, ``run_on_loihi2.py``)."""
