"""What-if studies built on the engine: retrofits, accidental releases and drills.

A scenario is a value; a what-if is a function from scenario to scenario; an ensemble is a set of
scenarios and seeds. (Populated by the ensemble and scenario tasks.)
"""
