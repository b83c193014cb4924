"""Operator and demo CLI for the running platform."""
