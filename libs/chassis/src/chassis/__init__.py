"""Service plumbing, no business rules."""
