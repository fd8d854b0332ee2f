"""Theorem 3.5 of Yao et al. against measured spike flips: ``neurodeploy analyze``.

``theory`` (densities, crisis probabilities, bounds) and ``flips`` (flip
counting) are pure numpy; ``measure`` runs SLAYER layers; ``perturb`` builds
the networks a perturbation compares; ``record`` joins them per layer;
``stage`` writes the files. docs/analysis.md has the equations.
"""
from neurodeploy.analyze.perturb import PERTURBATIONS, AnalysisError
from neurodeploy.analyze.stage import analysis_paths, analyze_run, summary_lines

__all__ = ["PERTURBATIONS", "AnalysisError", "analysis_paths", "analyze_run", "summary_lines"]
