"""The sim-logistics service."""
