"""Checks of the installation (`reflexia doctor`)."""
