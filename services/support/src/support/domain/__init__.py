"""The support domain, pure (seed 004): approval, releases, installation reports, tickets.

Each module folds one kind of stream and decides on its commands; no I/O, no clock (`now` and
`today` are passed in), refusals are `contracts.errors` exceptions naming the offending field.
"""
