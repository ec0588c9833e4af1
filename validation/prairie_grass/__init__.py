"""Project Prairie Grass simulated with the engine's 3D solver and scored with the field's statistics.

Modules: :mod:`.data` (the tables, exclusions, observed arc statistics), :mod:`.met` (recorded
meteorology → wind and diffusivities), :mod:`.grids` (per-arc grids and resolutions),
:mod:`.simulate` (engine runs to steady state), :mod:`.scoring` (pairs, statistics, convergence),
:mod:`.figures` (PNG plots), :mod:`.suite` (``run_suite``) and ``python -m validation.prairie_grass``.
"""
