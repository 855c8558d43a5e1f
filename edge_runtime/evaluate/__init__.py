"""Evaluation of model packages the way Lookout for Vision reported it (metrics, JSON files, plots)."""
