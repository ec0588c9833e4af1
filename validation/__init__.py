"""Validation: the field's standard statistics, analytic solutions and field datasets.

Depends on ``engine`` only. (Populated by the validation task.)
"""
