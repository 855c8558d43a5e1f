"""Lookout for Vision datasets: manifest reading, image/mask loading, limits, and a synthetic set."""
