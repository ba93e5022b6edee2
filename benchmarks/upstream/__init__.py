"""Environments for the upstream packages the engine benchmark compares against."""
