"""Multi-object tracking on detections and appearance embeddings (JDE-style): a Kalman filter on boxes,
association costs and assignment, the tracker, MOTChallenge files and metrics. NumPy only: it runs
beside any runtime."""
