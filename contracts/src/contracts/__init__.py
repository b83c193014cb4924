"""The published language of the integrator platform."""
