"""Executors that map "run these members" onto serial runs, MPI ranks (one GPU each) and clusters.

Depends on ``engine`` and ``scenarios`` only. (Populated by the scale-out work.)
"""
