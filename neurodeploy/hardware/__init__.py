"""Chip profiles (``hardware/*.yaml``) and the resource and energy estimator."""
from neurodeploy.hardware.profile import ChipProfile, Figure, ProfileError, available_profiles, load_profile

__all__ = ["ChipProfile", "Figure", "ProfileError", "available_profiles", "load_profile"]
