"""The web front's pages: public (sign-in and email links), the integrator portal, the staff console."""
