"""edge-runtime: train, compile, package and serve visual anomaly detection models at the edge.

Importing this package does nothing else: no logging setup, no model loading.
"""

__version__ = "0.1.0"
